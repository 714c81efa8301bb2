package forwarders

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// Handler serves the forwarders' state and dead letters as JSON, for the
// dashboard to mount behind its login (under /api/v1/forwarders):
//
//	GET    /                                   every target's Status
//	GET    /{target}/deadletters?limit=N       dead letters, newest first (limit 100 by default)
//	GET    /{target}/deadletters/{id}          one dead letter
//	POST   /{target}/deadletters/replay        replay all, or {"ids":[…]}; answers a ReplayResult
//	POST   /{target}/deadletters/{id}/replay   replay one
//	DELETE /{target}/deadletters               drop all, or ?id=…&id=…; answers {"dropped":n}
//	DELETE /{target}/deadletters/{id}          drop one
//
// Unknown targets and dead letters answer 404, bad requests 400, store
// failures 503, each with {"error": "…"}.
func (d *Dispatcher) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Status(r.Context()))
	})
	r.Route("/{target}/deadletters", func(r chi.Router) {
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			limit := 100
			if s := r.URL.Query().Get("limit"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					writeError(w, http.StatusBadRequest, "limit: want a positive integer, got "+strconv.Quote(s))
					return
				}
				limit = n
			}
			dls, err := d.DeadLetters(r.Context(), chi.URLParam(r, "target"), limit)
			respond(w, dls, err)
		})
		r.Delete("/", func(w http.ResponseWriter, r *http.Request) {
			n, err := d.DropDeadLetters(r.Context(), chi.URLParam(r, "target"), r.URL.Query()["id"]...)
			respond(w, map[string]int{"dropped": n}, err)
		})
		r.Post("/replay", func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				IDs []string `json:"ids"`
			}
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
				writeError(w, http.StatusBadRequest, "body: want {\"ids\": [\"…\"]} or nothing: "+err.Error())
				return
			}
			res, err := d.Replay(r.Context(), chi.URLParam(r, "target"), body.IDs...)
			respond(w, res, err)
		})
		r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
			dl, err := d.DeadLetter(r.Context(), chi.URLParam(r, "target"), chi.URLParam(r, "id"))
			respond(w, dl, err)
		})
		r.Post("/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
			res, err := d.Replay(r.Context(), chi.URLParam(r, "target"), chi.URLParam(r, "id"))
			respond(w, res, err)
		})
		r.Delete("/{id}", func(w http.ResponseWriter, r *http.Request) {
			n, err := d.DropDeadLetters(r.Context(), chi.URLParam(r, "target"), chi.URLParam(r, "id"))
			respond(w, map[string]int{"dropped": n}, err)
		})
	})
	return r
}

func respond(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, ErrUnknownTarget), errors.Is(err, ErrNoSuchDeadLetter):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client is gone when this fails
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
