package clarus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// The GraphQL transport: one POST /graphql per page, with the bearer token
// and the subdomain header, the envelope read and checked here, the data
// by the query's own decoder. Every document lockstep sends selects and
// filters documented fields only; contract_test.go validates them against
// clarus.graphql with the assumed declarations removed.

// GraphQLError is a query the server answered with errors: not retried.
type GraphQLError struct{ Messages []string }

func (e *GraphQLError) Error() string {
	return "clarus: graphql: " + strings.Join(e.Messages, "; ")
}

// errMalformedResponse marks an answer that could not be read, which the
// client retries: a proxy cutting a body short is transient.
var errMalformedResponse = errors.New("clarus: malformed GraphQL response")

// pageInfo is a connection's documented paging fields.
type pageInfo struct {
	HasNextPage bool    `json:"hasNextPage"`
	EndCursor   *string `json:"endCursor"`
}

// next returns the end cursor, refusing a next page without one, which
// would loop.
func (p pageInfo) next() (bool, string, error) {
	var end string
	if p.EndCursor != nil {
		end = *p.EndCursor
	}
	if p.HasNextPage && end == "" {
		return false, "", fmt.Errorf("clarus: graphql: hasNextPage without an endCursor")
	}
	return p.HasNextPage, end, nil
}

// query sends one GraphQL document and hands the answer's data to decode.
// It returns when the server read the data: the answer's
// extensions.read_at (assumed: the simulator's), else its Date header
// (whole seconds), else lockstep's clock.
func (c *Client) query(ctx context.Context, op, doc string, vars map[string]any, decode func(data []byte) error) (time.Time, error) {
	payload, err := json.Marshal(map[string]any{"query": doc, "variables": vars, "operationName": op})
	if err != nil {
		return time.Time{}, err
	}
	refreshed := false
	for malformed := 0; ; {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return time.Time{}, err
		}
		resp, body, err := c.send(ctx, "graphql", func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, c.base+"/graphql", bytes.NewReader(payload))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Clarus-Subdomain", c.subdomain)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			return req, nil
		})
		if err != nil {
			return time.Time{}, err
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// The token was revoked or expired early (clock skew): one
			// fresh token, then a 401 is an answer.
			c.invalidate(tok)
			refreshed = true
			c.o.Metrics.apiRetries.WithLabelValues("401").Inc()
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return time.Time{}, &APIError{Op: "graphql " + op, Status: resp.StatusCode, Body: snippet(body)}
		}
		readAt, err := decodeEnvelope(body, resp.Header.Get("Date"), decode)
		if errors.Is(err, errMalformedResponse) && malformed < 3 {
			malformed++
			c.o.Metrics.apiRetries.WithLabelValues("malformed").Inc()
			if err := clock.Sleep(ctx, c.o.Clock, time.Second); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if err != nil {
			return time.Time{}, err
		}
		if readAt.IsZero() {
			readAt = c.o.Clock.Now().UTC()
		}
		return readAt, nil
	}
}

// decodeEnvelope reads a GraphQL answer: errors become a GraphQLError, data
// goes to decode. It takes outside bytes: it must never panic.
func decodeEnvelope(body []byte, date string, decode func(data []byte) error) (time.Time, error) {
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
		Extensions struct {
			ReadAt string `json:"read_at"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if len(r.Errors) > 0 {
		ge := &GraphQLError{}
		for _, e := range r.Errors {
			ge.Messages = append(ge.Messages, e.Message)
		}
		return time.Time{}, ge
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return time.Time{}, fmt.Errorf("%w: no data", errMalformedResponse)
	}
	if err := decode(r.Data); err != nil {
		return time.Time{}, err
	}
	var readAt time.Time
	if t, err := time.Parse(time.RFC3339Nano, r.Extensions.ReadAt); err == nil {
		readAt = t.UTC()
	} else if t, err := http.ParseTime(date); err == nil {
		readAt = t.UTC()
	}
	return readAt, nil
}

func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.TrimSpace(s)
}

// ref is a related record as the documented queries select it.
type ref struct {
	ID   clarusID `json:"id"`
	Code *string  `json:"code"`
}
