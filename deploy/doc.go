// Package deploy holds Saker's deployment files — the Dockerfiles, the
// Kubernetes manifests under k8s/, the end-to-end scripts under e2e/ — and
// the tests that check them: render tests that parse every manifest and the
// top-level docker-compose.yml and check the fields a working deployment
// needs, and TestComposeE2E, which runs the real compose stack (as root, with
// Docker) through e2e/compose-e2e.sh.
//
// The package has no Go API; this file exists so the tests have a package.
package deploy
