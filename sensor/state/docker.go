package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/saker-sec/saker/sensor/event"
)

// DefaultDockerSocket is where dockerd (and podman's docker-compatible
// service) listen.
const DefaultDockerSocket = "/var/run/docker.sock"

// Docker is a minimal Docker Engine API client over its unix socket: plain
// net/http, no SDK, only the two calls the sensor needs.
type Docker struct {
	socket string
	hc     *http.Client
}

// NewDocker returns a client for the Engine API socket at path.
func NewDocker(path string) *Docker {
	return &Docker{socket: path, hc: UnixHTTPClient(path)}
}

// UnixHTTPClient is an HTTP client whose every request goes to the unix
// socket at path (the Engine API's; the URL's host is ignored).
func UnixHTTPClient(path string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &http.Client{Transport: tr}
}

// ErrNotFound is returned by Inspect for an id the engine does not know.
var ErrNotFound = errors.New("container not found")

// dockerInspect is the subset of GET /containers/{id}/json the sensor uses.
type dockerInspect struct {
	ID      string `json:"Id"`
	Name    string `json:"Name"`
	Image   string `json:"Image"` // image id, sha256:…
	Created string `json:"Created"`
	State   struct {
		StartedAt string `json:"StartedAt"`
	} `json:"State"`
	Config struct {
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	HostConfig struct {
		Privileged bool `json:"Privileged"`
	} `json:"HostConfig"`
	Mounts []struct {
		Source      string `json:"Source"`
		Destination string `json:"Destination"`
		Mode        string `json:"Mode"`
		RW          bool   `json:"RW"`
		Propagation string `json:"Propagation"`
	} `json:"Mounts"`
}

// Inspect fetches a container's metadata.
func (d *Docker) Inspect(ctx context.Context, id string) (*event.Container, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/containers/"+url.PathEscape(id)+"/json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker inspect %s: %w", ShortID(id), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("docker inspect %s: %w", ShortID(id), ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("docker inspect %s: %s: %s", ShortID(id), resp.Status, strings.TrimSpace(string(b)))
	}
	var in dockerInspect
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&in); err != nil {
		return nil, fmt.Errorf("docker inspect %s: decode: %w", ShortID(id), err)
	}
	return in.container(), nil
}

func (in *dockerInspect) container() *event.Container {
	c := &event.Container{
		ID:         ShortID(in.ID),
		FullID:     in.ID,
		Name:       strings.TrimPrefix(in.Name, "/"),
		Image:      in.Config.Image,
		ImageID:    strings.TrimPrefix(in.Image, "sha256:"),
		Runtime:    RuntimeDocker,
		Privileged: in.HostConfig.Privileged,
		Labels:     in.Config.Labels,
	}
	c.Repository, c.Tag = SplitImage(in.Config.Image)
	if t, err := time.Parse(time.RFC3339Nano, in.State.StartedAt); err == nil && !t.IsZero() && t.Year() > 1 {
		c.StartTS = t.UnixNano()
	}
	for _, m := range in.Mounts {
		c.Mounts = append(c.Mounts, event.Mount{Source: m.Source, Dest: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation})
	}
	// Kubelet (dockershim / cri-dockerd) labels carry the pod identity.
	if l := in.Config.Labels; l != nil {
		c.PodName = l["io.kubernetes.pod.name"]
		c.Namespace = l["io.kubernetes.pod.namespace"]
		c.PodUID = l["io.kubernetes.pod.uid"]
	}
	return c
}

// SplitImage splits "registry:5000/team/app:1.2@sha256:…" into repository
// "registry:5000/team/app" and tag "1.2". A reference without a tag has tag
// "latest", as docker resolves it.
func SplitImage(image string) (repo, tag string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if i := strings.LastIndexByte(image, ':'); i > slash {
		return image[:i], image[i+1:]
	}
	if image == "" || strings.HasPrefix(image, "sha256:") {
		return image, ""
	}
	return image, "latest"
}

// WatchStarts streams the engine's container start events and calls fn with
// each started container's full id, until ctx ends or the stream fails.
func (d *Docker) WatchStarts(ctx context.Context, fn func(id string)) error {
	filters := url.QueryEscape(`{"type":["container"],"event":["start"]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/events?filters="+filters, nil)
	if err != nil {
		return err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("docker events: %s", resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev struct {
			Type   string `json:"Type"`
			Action string `json:"Action"`
			Status string `json:"status"`
			ID     string `json:"id"`
			Actor  struct {
				ID string `json:"ID"`
			} `json:"Actor"`
		}
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("docker events: %w", err)
		}
		id := ev.Actor.ID
		if id == "" {
			id = ev.ID
		}
		if id != "" && (ev.Action == "start" || ev.Status == "start") {
			fn(id)
		}
	}
}
