package outhttp_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
)

func TestPosterHeadersAndAuth(t *testing.T) {
	p := testpeer.New(t)
	po, err := outhttp.NewPoster(p.URL+"/in", settings.Common{CheckCert: true,
		CustomHeaders: map[string]string{"X-Extra": "1", "Authorization": "Bearer override"}}, outhttp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	po.Header = http.Header{"Dd-Api-Key": {"k"}}
	po.User, po.Password = "u", "p"
	if _, err := po.PostJSON(context.Background(), map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Method != "POST" || r.Path != "/in" || string(r.Body) != `{"a":1}` || r.Header.Get("Content-Type") != outhttp.ContentTypeJSON ||
		r.Header.Get("Dd-Api-Key") != "k" || r.Header.Get("X-Extra") != "1" || r.Header.Get("Authorization") != "Bearer override" {
		t.Fatalf("request %+v", r)
	}
}

func TestPosterClassifiesAndRedacts(t *testing.T) {
	p := testpeer.New(t)
	p.Status, p.RetryAfter = 429, 3
	po, _ := outhttp.NewPoster(p.URL+"/hook/secret-token?key=k", settings.Common{CheckCert: true}, outhttp.Options{})
	retry, err := po.Send(context.Background(), []byte("{}"))
	var se *outhttp.StatusError
	if !retry || !errors.As(err, &se) || se.RetryAfter != 3*time.Second {
		t.Fatalf("Send = %v, %v; want retryable 429 with Retry-After 3s", retry, err)
	}
	p.Close()
	po.SecretURL = true
	retry, err = po.Send(context.Background(), []byte("{}"))
	if !retry || err == nil || strings.Contains(err.Error(), "secret-token") || strings.Contains(err.Error(), "key=k") {
		t.Fatalf("Send to a closed peer = %v, %v; want a retryable error without the secret path", retry, err)
	}
}
