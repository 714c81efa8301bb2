package outhttp

import "testing"

func TestRetryableStatus(t *testing.T) {
	for code, want := range map[int]bool{
		400: false, 401: false, 403: false, 404: false, 408: true, 413: false, 422: false, 423: true, 425: true,
		429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 505: false,
	} {
		if got := RetryableStatus(code); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}
