package clarussim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// handleToken is the OAuth 2.0 token endpoint for the client credentials
// grant. Client credentials come as HTTP Basic (client_secret_basic) or in
// the body (client_secret_post), form-encoded or JSON as Doorkeeper-based
// servers accept; the response shape is assumed from RFC 6749.
func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	var grant, id, secret string
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			GrantType    string `json:"grant_type"`
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not valid JSON.")
			return
		}
		grant, id, secret = body.GrantType, body.ClientID, body.ClientSecret
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
			return
		}
		grant, id, secret = r.PostForm.Get("grant_type"), r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1: both are form-encoded before Basic encoding.
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	if grant != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
		return
	}
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
	if !okID || !okSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
		return
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	tok := hex.EncodeToString(raw)
	s.mu.Lock()
	now := s.clock()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(s.cfg.TokenTTL.Seconds()),
		"scope":        "read write",
		"created_at":   now.Unix(),
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	simkit.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// authorized checks the bearer token and the X-Clarus-Subdomain header,
// answering 401 (403 for another tenant's subdomain) when they fail.
func (s *Sim) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Clarus"`)
		simkit.WriteError(w, http.StatusUnauthorized, "Missing bearer token")
		return false
	}
	sub := r.Header.Get("X-Clarus-Subdomain")
	if sub == "" {
		simkit.WriteError(w, http.StatusUnauthorized, "Missing X-Clarus-Subdomain header")
		return false
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	now := s.clock()
	s.mu.Unlock()
	switch {
	case !known:
		w.Header().Set("WWW-Authenticate", `Bearer realm="Clarus", error="invalid_token", error_description="The access token is invalid"`)
		simkit.WriteError(w, http.StatusUnauthorized, "The access token is invalid")
		return false
	case !now.Before(exp):
		w.Header().Set("WWW-Authenticate", `Bearer realm="Clarus", error="invalid_token", error_description="The access token expired"`)
		simkit.WriteError(w, http.StatusUnauthorized, "The access token expired")
		return false
	case sub != s.cfg.Subdomain:
		simkit.WriteError(w, http.StatusForbidden, "Unknown subdomain")
		return false
	}
	return true
}

// api wraps a Clarus API endpoint in the injected faults and, when auth is
// set, in the bearer token and subdomain checks every API call needs.
func (s *Sim) api(h http.HandlerFunc, auth bool) http.HandlerFunc {
	if !auth {
		return s.inject.Wrap(h)
	}
	return s.inject.Wrap(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(w, r) {
			h(w, r)
		}
	})
}
