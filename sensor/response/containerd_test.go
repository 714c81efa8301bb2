package response

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	containers "github.com/containerd/containerd/api/services/containers/v1"
	namespaces "github.com/containerd/containerd/api/services/namespaces/v1"
	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/saker-sec/saker/sensor/event"
)

// containerdSocket finds a containerd that answers: the node's, or the one
// dockerd runs (started by deploy/e2e/ensure-dockerd.sh if needed). It
// skips without one unless SAKER_REQUIRE_DOCKER=1.
func containerdSocket(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	candidates := []string{DefaultContainerdSocket, "/var/run/docker/containerd/containerd.sock"}
	find := func() string {
		for _, s := range candidates {
			if fi, err := os.Stat(s); err == nil && fi.Mode()&os.ModeSocket != 0 {
				return s
			}
		}
		return ""
	}
	if s := find(); s != "" {
		return s
	}
	out, err := exec.Command("bash", "../../deploy/e2e/ensure-dockerd.sh").CombinedOutput()
	if s := find(); err == nil && s != "" {
		return s
	}
	msg := fmt.Sprintf("no containerd socket (%v: %s)", err, strings.TrimSpace(string(out)))
	if os.Getenv("SAKER_REQUIRE_DOCKER") == "1" {
		t.Fatalf("SAKER_REQUIRE_DOCKER=1 but %s", msg)
	}
	t.Skipf("%s (set SAKER_REQUIRE_DOCKER=1 to fail instead)", msg)
	return ""
}

// containerdConn connects to the containerd this host runs. Cleanups run
// last-registered first, so the tasks' cleanups (ctrdTask) and the
// namespace's removal (tempNamespace), registered later, run while the
// connection is still open (a deferred Close ran before every cleanup and
// left the tasks and their shims behind).
func containerdConn(t *testing.T) (string, *grpc.ClientConn) {
	t.Helper()
	sock := containerdSocket(t)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sock, conn
}

// tempNamespace names a containerd namespace removed when the test ends,
// after its containers (an error if any is left).
func tempNamespace(t *testing.T, conn *grpc.ClientConn, ns string) string {
	t.Helper()
	t.Cleanup(func() {
		if _, err := namespaces.NewNamespacesClient(conn).Delete(context.Background(), &namespaces.DeleteNamespaceRequest{Name: ns}); err != nil {
			t.Errorf("remove containerd namespace %s: %v", ns, err)
		}
	})
	return ns
}

// ctrdTask runs `sleep 300` as a containerd container and task in
// namespace ns (a busybox root filesystem bound from a temporary directory, no image), as
// the CRI plugin would for a pod's container; removed when the test ends.
func ctrdTask(t *testing.T, conn *grpc.ClientConn, ns, id string) context.Context {
	t.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "containerd-namespace", ns)
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("busybox-static: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(root, "bin", "sleep")); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`{"ociVersion":"1.0.2",
 "process":{"user":{"uid":0,"gid":0},"args":["/bin/sleep","300"],"env":["PATH=/bin"],"cwd":"/"},
 "root":{"path":"rootfs","readonly":false},
 "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}],"cgroupsPath":"/saker-ctrd-test/%s"}}`, id)
	cc := containers.NewContainersClient(conn)
	if _, err := cc.Create(ctx, &containers.CreateContainerRequest{Container: &containers.Container{
		ID:      id,
		Runtime: &containers.Container_Runtime{Name: "io.containerd.runc.v2"},
		Spec:    &anypb.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte(spec)},
	}}); err != nil {
		t.Fatalf("create container: %v", err)
	}
	tc := tasks.NewTasksClient(conn)
	t.Cleanup(func() {
		_, _ = tc.Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: 9, All: true})
		_, _ = tc.Resume(ctx, &tasks.ResumeTaskRequest{ContainerID: id})
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, _ = tc.Wait(wctx, &tasks.WaitRequest{ContainerID: id})
		_, _ = tc.Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})
		_, _ = cc.Delete(ctx, &containers.DeleteContainerRequest{ID: id})
	})
	if _, err := tc.Create(ctx, &tasks.CreateTaskRequest{ContainerID: id, Rootfs: []*types.Mount{{Type: "bind", Source: root, Options: []string{"rbind", "rw"}}}}); err != nil {
		t.Fatalf("create task: %v", err)
	}
	if _, err := tc.Start(ctx, &tasks.StartRequest{ContainerID: id}); err != nil {
		t.Fatalf("start task: %v", err)
	}
	return ctx
}

// TestContainerdActions: container_pause, container_stop and
// container_kill reach a real containerd's Tasks API for a container the
// sensor sees as containerd's, in the configured namespace.
func TestContainerdActions(t *testing.T) {
	sock, conn := containerdConn(t)
	ns := tempNamespace(t, conn, fmt.Sprintf("saker-test-%d", os.Getpid()))
	r, rec := newResponder(t, fmt.Sprintf(`
containerd_socket: %s
containerd_namespace: %s
rate_limit: {per_second: 100, burst: 100}
actions:
  - {match: {rule: Pause}, action: container_pause}
  - {match: {rule: Stop}, action: container_stop, stop_timeout: 1}
  - {match: {rule: Kill}, action: container_kill}
`, sock, ns))
	tc := tasks.NewTasksClient(conn)
	n := 0
	for _, step := range []struct {
		rule string
		want task.Status
	}{{"Pause", task.Status_PAUSED}, {"Stop", task.Status_STOPPED}, {"Kill", task.Status_STOPPED}} {
		id := fmt.Sprintf("saker-%s-%d", strings.ToLower(step.rule), os.Getpid())
		ctx := ctrdTask(t, conn, ns, id)
		got, err := tc.Get(ctx, &tasks.GetRequest{ContainerID: id})
		if err != nil || got.Process.Status != task.Status_RUNNING {
			t.Fatalf("%s: task %v, %v; want running", id, got, err)
		}
		ev := &event.Event{TS: time.Now().UnixNano(), Thread: &event.Thread{PID: int64(got.Process.Pid), Comm: "sleep"},
			Container: &event.Container{ID: id[:12], FullID: id, Runtime: "containerd"}}
		a := respond(r, ev, step.rule)
		n++
		record := rec.next(t, n)
		if field(record, "response.result") != ResultDone || field(record, "response.alert_id") != a.UUID {
			t.Fatalf("%s: record %v", step.rule, record.OutputFields)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got, err = tc.Get(ctx, &tasks.GetRequest{ContainerID: id})
			if err == nil && got.Process.Status == step.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: task %v, %v; want %v", step.rule, got, err, step.want)
			}
		}
	}

	// Another namespace's container of the same id is not touched: a
	// missing task fails the action, and the record says so.
	a := respond(r, &event.Event{TS: time.Now().UnixNano(), Thread: &event.Thread{PID: 2, Comm: "x"},
		Container: &event.Container{ID: "nosuchctr", FullID: "nosuchctr", Runtime: "containerd"}}, "Pause")
	n++
	if got := rec.next(t, n); field(got, "response.result") != ResultFailed || field(got, "response.alert_id") != a.UUID || !strings.Contains(field(got, "response.detail"), "not found") {
		t.Fatalf("record %v", got.OutputFields)
	}
}

// TestBlockNetworkContainerOfExitedProcess: block_network for an alert
// whose process is already gone (a one-shot `sh -c …` or curl, the usual
// case by the time the action runs) blocks its container, found through
// the runtime, instead of skipping with "cgroup unknown".
func TestBlockNetworkContainerOfExitedProcess(t *testing.T) {
	e := newBlockEnv(t)
	sock, conn := containerdConn(t)
	ns := tempNamespace(t, conn, fmt.Sprintf("saker-test-block-%d", os.Getpid()))
	id := fmt.Sprintf("saker-block-%d", os.Getpid())
	ctx := ctrdTask(t, conn, ns, id)
	got, err := tasks.NewTasksClient(conn).Get(ctx, &tasks.GetRequest{ContainerID: id})
	if err != nil {
		t.Fatal(err)
	}
	want, err := CgroupOf(int(got.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	r, rec := newResponder(t, fmt.Sprintf(`
containerd_socket: %s
containerd_namespace: %s
block_dir: %s
actions:
  - {match: {rule: Block}, action: block_network}
`, sock, ns, e.dir))
	ev := &event.Event{TS: time.Now().UnixNano(), Thread: &event.Thread{PID: int64(gone.Process.Pid), Comm: "curl"},
		Container: &event.Container{ID: id[:12], FullID: id, Runtime: "containerd"}}
	a := respond(r, ev, "Block")
	record := rec.next(t, 1)
	if field(record, "response.result") != ResultDone || field(record, "response.alert_id") != a.UUID {
		t.Fatalf("record %v", record.OutputFields)
	}
	blocks, err := r.blocker.List()
	if err != nil || len(blocks) != 1 {
		t.Fatalf("blocks %+v, %v", blocks, err)
	}
	t.Cleanup(func() { _, _ = r.blocker.Release(blocks[0].Name) })
	if blocks[0].Cgroup != want {
		t.Fatalf("blocked cgroup %q, want the container's %q", blocks[0].Cgroup, want)
	}
}
