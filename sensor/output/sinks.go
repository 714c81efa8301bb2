package output

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"os/exec"
	"sync"

	"github.com/saker-sec/saker/hub/alert"
)

// StdoutOptions configure stdout_output.
type StdoutOptions struct {
	// W is where lines go (default os.Stdout).
	W io.Writer
	// Buffered keeps lines in a buffer flushed on Close or when full
	// (buffered_outputs: true); otherwise each line is written at once.
	Buffered bool
}

// StdoutSink writes one line per alert (stdout_output).
type StdoutSink struct {
	mu sync.Mutex
	w  io.Writer
	bw *bufio.Writer
}

// NewStdout returns the stdout sink.
func NewStdout(o StdoutOptions) *StdoutSink {
	s := &StdoutSink{w: o.W}
	if s.w == nil {
		s.w = os.Stdout
	}
	if o.Buffered {
		s.bw = bufio.NewWriter(s.w)
	}
	return s
}

// Name implements Sink.
func (s *StdoutSink) Name() string { return "stdout" }

// Send implements Sink.
func (s *StdoutSink) Send(_ context.Context, m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := append(append(make([]byte, 0, len(m.Text)+1), m.Text...), '\n')
	if s.bw != nil {
		_, err := s.bw.Write(line)
		return err
	}
	_, err := s.w.Write(line)
	return err
}

// Close flushes a buffered stdout.
func (s *StdoutSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bw != nil {
		return s.bw.Flush()
	}
	return nil
}

// FileOptions configure file_output.
type FileOptions struct {
	Filename string
	// KeepAlive keeps the file open between alerts; otherwise it is
	// opened (append) and closed for each alert, as Falco does.
	KeepAlive bool
}

// FileSink appends one line per alert to a file (file_output).
type FileSink struct {
	o  FileOptions
	mu sync.Mutex
	f  *os.File
}

// NewFile validates the options and, with KeepAlive, opens the file.
func NewFile(o FileOptions) (*FileSink, error) {
	if o.Filename == "" {
		return nil, fmt.Errorf("file_output: filename is required")
	}
	s := &FileSink{o: o}
	if o.KeepAlive {
		f, err := openAppend(o.Filename)
		if err != nil {
			return nil, err
		}
		s.f = f
	}
	return s, nil
}

func openAppend(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("file_output: open %s: %w", name, err)
	}
	return f, nil
}

// Name implements Sink.
func (s *FileSink) Name() string { return "file" }

// Send implements Sink.
func (s *FileSink) Send(_ context.Context, m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := append(append(make([]byte, 0, len(m.Text)+1), m.Text...), '\n')
	if s.f != nil {
		if _, err := s.f.Write(line); err != nil {
			return fmt.Errorf("file_output: write %s: %w", s.o.Filename, err)
		}
		return nil
	}
	f, err := openAppend(s.o.Filename)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("file_output: write %s: %w", s.o.Filename, err)
	}
	return f.Close()
}

// Reopen closes and reopens a kept-alive file (log rotation; Falco does
// this on SIGUSR1).
func (s *FileSink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	s.f.Close()
	f, err := openAppend(s.o.Filename)
	s.f = f
	return err
}

// Close implements Sink.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		err := s.f.Close()
		s.f = nil
		return err
	}
	return nil
}

// SyslogOptions configure syslog_output.
type SyslogOptions struct {
	// Network and Addr select the syslog daemon ("" and "" = the local
	// /dev/log, as Falco's syslog(3)); tests use a unixgram socket.
	Network, Addr string
	// Tag is the syslog identifier (default "saker").
	Tag string
}

// SyslogSink sends each alert to syslog with Falco's priority mapping
// (Emergency → LOG_EMERG … Debug → LOG_DEBUG), facility LOG_USER.
type SyslogSink struct {
	mu sync.Mutex
	w  *syslog.Writer
}

// NewSyslog connects to the syslog daemon.
func NewSyslog(o SyslogOptions) (*SyslogSink, error) {
	if o.Tag == "" {
		o.Tag = "saker"
	}
	w, err := syslog.Dial(o.Network, o.Addr, syslog.LOG_USER|syslog.LOG_INFO, o.Tag)
	if err != nil {
		return nil, fmt.Errorf("syslog_output: connect: %w", err)
	}
	return &SyslogSink{w: w}, nil
}

// Name implements Sink.
func (s *SyslogSink) Name() string { return "syslog" }

// Send implements Sink.
func (s *SyslogSink) Send(_ context.Context, m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := string(m.Text)
	var err error
	switch m.Alert.Priority {
	case alert.PriorityEmergency:
		err = s.w.Emerg(msg)
	case alert.PriorityAlert:
		err = s.w.Alert(msg)
	case alert.PriorityCritical:
		err = s.w.Crit(msg)
	case alert.PriorityError:
		err = s.w.Err(msg)
	case alert.PriorityWarning:
		err = s.w.Warning(msg)
	case alert.PriorityNotice:
		err = s.w.Notice(msg)
	case alert.PriorityDebug:
		err = s.w.Debug(msg)
	default:
		err = s.w.Info(msg)
	}
	if err != nil {
		return fmt.Errorf("syslog_output: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *SyslogSink) Close() error { return s.w.Close() }

// ProgramOptions configure program_output.
type ProgramOptions struct {
	// Program is a shell command line (run with /bin/sh -c, like popen)
	// that receives alert lines on its standard input.
	Program string
	// KeepAlive keeps one process running for all alerts; otherwise a
	// process is started per alert and waited for, as Falco does.
	KeepAlive bool
}

// ProgramSink pipes alerts into a program (program_output).
type ProgramSink struct {
	o     ProgramOptions
	mu    sync.Mutex
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// NewProgram validates the options and, with KeepAlive, starts the program.
func NewProgram(o ProgramOptions) (*ProgramSink, error) {
	if o.Program == "" {
		return nil, fmt.Errorf("program_output: program is required")
	}
	s := &ProgramSink{o: o}
	if o.KeepAlive {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *ProgramSink) start() error {
	cmd := exec.Command("/bin/sh", "-c", s.o.Program)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("program_output: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("program_output: start %q: %w", s.o.Program, err)
	}
	s.cmd, s.stdin = cmd, in
	return nil
}

func (s *ProgramSink) stop() error {
	if s.cmd == nil {
		return nil
	}
	s.stdin.Close()
	err := s.cmd.Wait()
	s.cmd, s.stdin = nil, nil
	if err != nil {
		return fmt.Errorf("program_output: %q: %w", s.o.Program, err)
	}
	return nil
}

// Name implements Sink.
func (s *ProgramSink) Name() string { return "program" }

// Send implements Sink. A kept-alive program that died is restarted.
func (s *ProgramSink) Send(_ context.Context, m *Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := append(append(make([]byte, 0, len(m.Text)+1), m.Text...), '\n')
	if s.cmd == nil {
		if err := s.start(); err != nil {
			return err
		}
	}
	_, werr := s.stdin.Write(line)
	if !s.o.KeepAlive {
		err := s.stop()
		if werr != nil {
			return fmt.Errorf("program_output: write: %w", werr)
		}
		return err
	}
	if werr != nil {
		s.stop()
		return fmt.Errorf("program_output: write: %w", werr)
	}
	return nil
}

// Close closes the kept-alive program's input and waits for it.
func (s *ProgramSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stop()
}
