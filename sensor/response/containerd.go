package response

import (
	"context"
	"fmt"
	"sync"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Containerd defaults: the socket of a node's containerd and the namespace
// the CRI plugin (Kubernetes) keeps its containers in.
const (
	DefaultContainerdSocket    = "/run/containerd/containerd.sock"
	DefaultContainerdNamespace = "k8s.io"
)

// containerd pauses, stops and kills containers through containerd's
// Tasks API (gRPC on its unix socket), for the containers the sensor sees
// as containerd's (CRI-managed: Kubernetes pods). Only the generated API
// module: the full containerd client would bring its whole tree into the
// sensor for three calls. Docker's containers, though run by containerd
// too (namespace "moby"), go through the Docker API: acting on their tasks
// behind dockerd would leave `docker ps`, `docker unpause` and restart
// policies out of step.
type containerd struct {
	socket, namespace string

	once sync.Once
	conn *grpc.ClientConn
	err  error
}

func newContainerd(socket, namespace string) *containerd {
	if socket == "" {
		socket = DefaultContainerdSocket
	}
	if namespace == "" {
		namespace = DefaultContainerdNamespace
	}
	return &containerd{socket: socket, namespace: namespace}
}

// client dials once, at the first action (grpc connects lazily anyway).
func (c *containerd) client() (tasks.TasksClient, error) {
	c.once.Do(func() {
		c.conn, c.err = grpc.NewClient("unix://"+c.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	})
	if c.err != nil {
		return nil, fmt.Errorf("containerd %s: %w", c.socket, c.err)
	}
	return tasks.NewTasksClient(c.conn), nil
}

// container runs a container action on the task of container id.
func (c *containerd) container(ctx context.Context, action, id string, stopTimeout int) error {
	tc, err := c.client()
	if err != nil {
		return err
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", c.namespace)
	switch action {
	case ActionContainerPause:
		_, err = tc.Pause(ctx, &tasks.PauseTaskRequest{ContainerID: id})
	case ActionContainerKill:
		_, err = tc.Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: 9, All: true})
	case ActionContainerStop:
		err = c.stop(ctx, tc, id, time.Duration(stopTimeout)*time.Second)
	default:
		return fmt.Errorf("container action %q", action)
	}
	if err != nil {
		return fmt.Errorf("containerd %s %s (namespace %s): %w", action, id, c.namespace, err)
	}
	return nil
}

// initPID returns the host PID of the task of container id.
func (c *containerd) initPID(ctx context.Context, id string) (int, error) {
	tc, err := c.client()
	if err != nil {
		return 0, err
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", c.namespace)
	resp, err := tc.Get(ctx, &tasks.GetRequest{ContainerID: id})
	if err != nil {
		return 0, fmt.Errorf("containerd task %s (namespace %s): %w", id, c.namespace, err)
	}
	return int(resp.GetProcess().GetPid()), nil
}

// stop sends SIGTERM to every process of the task and SIGKILL after
// grace, as `docker stop -t` does.
func (c *containerd) stop(ctx context.Context, tc tasks.TasksClient, id string, grace time.Duration) error {
	if grace > 0 {
		// Wait first: a task that exits between Kill and Wait would be missed.
		wctx, cancel := context.WithTimeout(ctx, grace)
		defer cancel()
		waited := make(chan error, 1)
		go func() {
			_, err := tc.Wait(wctx, &tasks.WaitRequest{ContainerID: id})
			waited <- err
		}()
		if _, err := tc.Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: 15, All: true}); err != nil {
			return err
		}
		if err := <-waited; err == nil {
			return nil
		}
		// The grace passed (containerd reports its own deadline as
		// Unknown), or the wait failed: SIGKILL either way, unless the
		// action's own timeout is spent.
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	_, err := tc.Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: 9, All: true})
	if status.Code(err) == codes.NotFound {
		return nil // it ended meanwhile
	}
	return err
}

// Close closes the connection, if one was made.
func (c *containerd) Close() {
	if c.conn != nil {
		c.conn.Close()
	}
}
