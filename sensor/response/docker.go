package response

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/sensor/state"
)

// docker calls the Docker Engine API's container lifecycle endpoints over
// its unix socket. Plain net/http: the three documented POSTs do not
// justify the official SDK's dependency tree in the sensor binary (the
// sensor's state package reads containers the same way).
type docker struct {
	hc *http.Client
}

func newDocker(socket string) *docker {
	return &docker{hc: state.UnixHTTPClient(socket)}
}

// container runs one of the lifecycle actions on container id.
func (d *docker) container(ctx context.Context, action, id string, stopTimeout int) error {
	q := url.Values{}
	var op string
	switch action {
	case ActionContainerStop:
		op = "stop"
		q.Set("t", strconv.Itoa(stopTimeout))
	case ActionContainerPause:
		op = "pause"
	case ActionContainerKill:
		op = "kill"
		q.Set("signal", "SIGKILL")
	default:
		return fmt.Errorf("container action %q", action)
	}
	u := "http://docker/containers/" + url.PathEscape(id) + "/" + op
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker %s: %w", op, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	// 304: already stopped/paused — the desired state holds.
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	return fmt.Errorf("docker %s %s: %s: %s", op, id, resp.Status, strings.TrimSpace(string(body)))
}

// initPID returns the host PID of container id's first process (the
// Engine API's State.Pid; 0 when the container is not running).
func (d *docker) initPID(ctx context.Context, id string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/containers/"+url.PathEscape(id)+"/json", nil)
	if err != nil {
		return 0, err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("docker inspect: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("docker inspect %s: %s: %s", id, resp.Status, strings.TrimSpace(string(body)))
	}
	var c struct {
		State struct{ Pid int }
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c); err != nil {
		return 0, fmt.Errorf("docker inspect %s: %w", id, err)
	}
	return c.State.Pid, nil
}
