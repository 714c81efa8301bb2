package smtp

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// maxSubject bounds the Subject's length in characters: the alert's output
// can be long, and header lines must stay under 998 bytes.
const maxSubject = 200

// view is what the body templates show of an alert.
type view struct {
	A      *alert.Alert
	Color  string
	Fields []field
	Tags   string
	Time   string
}

type field struct{ Name, Value string }

var textBody = template.Must(template.New("text").Parse(`{{.A.Priority}}: {{.A.Output}}

Rule:     {{.A.Rule}}
Priority: {{.A.Priority}}
Source:   {{.A.Source}}
Hostname: {{.A.Hostname}}
Tags:     {{.Tags}}
Time:     {{.Time}}
{{if .Fields}}
Output fields:
{{range .Fields}}  {{.Name}}: {{.Value}}
{{end}}{{end}}`))

var htmlBody = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px">
<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;max-width:760px">
<tr><td colspan="2" style="background-color:{{.Color}};color:#ffffff;font-weight:bold;text-align:center">{{.A.Priority}}</td></tr>
<tr><td colspan="2" style="background-color:#f2f4f5">{{.A.Output}}</td></tr>
<tr><th align="left">Rule</th><td>{{.A.Rule}}</td></tr>
<tr><th align="left">Source</th><td>{{.A.Source}}</td></tr>
<tr><th align="left">Hostname</th><td>{{.A.Hostname}}</td></tr>
<tr><th align="left">Tags</th><td>{{.Tags}}</td></tr>
<tr><th align="left">Time</th><td>{{.Time}}</td></tr>
{{if .Fields}}<tr><td colspan="2" style="background-color:#858585;color:#ffffff;font-weight:bold">Output fields</td></tr>
{{range .Fields}}<tr><th align="left" style="font-family:monospace">{{.Name}}</th><td style="font-family:monospace">{{.Value}}</td></tr>
{{end}}{{end}}</table>
</body></html>
`))

// Message is the RFC 5322 email of an alert, with CRLF line ends: a
// text/plain part, and with format "html" a text/html alternative.
func Message(a *alert.Alert, from *mail.Address, to []*mail.Address, format string) (string, error) {
	v := view{A: a, Color: render.Color(a.Priority), Tags: render.Tags(a, ", "), Time: a.Time.UTC().Format(time.RFC3339Nano)}
	if v.Color == "" {
		v.Color = "#858585"
	}
	for _, k := range settings.SortedKeys(a.OutputFields) {
		val := a.OutputFields[k]
		if val == nil {
			val = "<NA>"
		}
		v.Fields = append(v.Fields, field{k, fmt.Sprint(val)})
	}
	var text, html bytes.Buffer
	if err := textBody.Execute(&text, v); err != nil {
		return "", fmt.Errorf("smtp text body: %w", err)
	}
	if format == "html" {
		if err := htmlBody.Execute(&html, v); err != nil {
			return "", fmt.Errorf("smtp html body: %w", err)
		}
	}

	var msg bytes.Buffer
	rcpts := make([]string, len(to))
	for i, t := range to {
		rcpts[i] = t.String()
	}
	header := func(k, v string) { msg.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", strings.Join(rcpts, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject(a)))
	header("Date", a.Time.Format(time.RFC1123Z))
	if a.UUID != "" {
		header("Message-ID", "<"+a.UUID+"@saker>")
	}
	header("MIME-Version", "1.0")
	if format != "html" {
		header("Content-Type", `text/plain; charset="utf-8"`)
		header("Content-Transfer-Encoding", "quoted-printable")
		msg.WriteString("\r\n")
		writeQP(&msg, text.Bytes())
		return msg.String(), nil
	}
	mw := multipart.NewWriter(&msg)
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	msg.WriteString("\r\n")
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{`text/plain; charset="utf-8"`, text.Bytes()}, {`text/html; charset="utf-8"`, html.Bytes()}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return "", err
		}
		writeQP(pw, part.body)
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	return msg.String(), nil
}

// writeQP writes body quoted-printable with CRLF line ends.
func writeQP(w interface{ Write([]byte) (int, error) }, body []byte) {
	qp := quotedprintable.NewWriter(w)
	_, _ = qp.Write(bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")))
	_ = qp.Close()
}

// subject is falcosidekick's "[Priority] output", cut to maxSubject
// characters on one line.
func subject(a *alert.Alert) string {
	s := "[" + a.Priority.String() + "] " + strings.Join(strings.Fields(a.Output), " ")
	if utf8.RuneCountInString(s) > maxSubject {
		s = string([]rune(s)[:maxSubject-3]) + "..."
	}
	return s
}
