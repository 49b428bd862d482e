package clarus

import (
	"context"
	"fmt"
	"slices"
)

// How a command sink writes to Clarus without ever writing twice what
// Clarus would keep twice. Clarus documents no idempotency key and takes a
// second record with the same reference, so every write is planned from a
// look-up, made one attempt at a time, and after any failure that may have
// been applied (no answer, a 5xx after the write) looked up again before
// anything is written again. These two loops are the only places the
// sinks write; what they write and how they read is the sink's.

// createOnce creates what a command asks for unless it stands already.
// standing looks the command's record up: found, its answer is the
// command's (an earlier attempt made it, or another version's stands in
// the way). create makes one attempt and returns the new record's id;
// created and refused answer its success and Clarus's refusal (4xx).
// standing runs before the first attempt and after each failure that may
// have created, never after one that cannot have (a 429, a refused token).
func (s *sinkLoop) createOnce(ctx context.Context, call string,
	standing func(context.Context) (answer, bool, error),
	create func(context.Context) (string, error),
	created func(id string) answer,
	refused func(reason string) answer,
) (answer, error) {
	backoff := s.backoffBase()
	for look := true; ; {
		if look {
			a, found, err := standing(ctx)
			if err != nil || found {
				return a, err
			}
		}
		var id string
		err := s.attempt(ctx, call, func(ctx context.Context) (err error) {
			id, err = create(ctx)
			return err
		})
		if err == nil {
			return created(id), nil
		}
		if stopped(ctx, err) {
			return answer{}, err
		}
		if reason, ok := refusal(err); ok {
			return refused(reason), nil
		}
		look = ambiguous(err)
		if err := s.wait(ctx, err, &backoff); err != nil {
			return answer{}, err
		}
	}
}

// writeAll writes every record plan names. plan looks the records up and
// returns the ids to write, or the command's answer when nothing (more)
// is to be written; it is told the ids written so far (a record the write
// deleted is no longer listed). write makes one attempt on one record;
// refused answers Clarus refusing it. After any other failure the sink
// waits and plans again from a fresh look-up: the records may have
// changed, and a write that failed may have been applied, which, when
// ambiguousDone is set, counts as written. It returns the ids written once
// every planned write succeeded, or the answer that ended it.
func (s *sinkLoop) writeAll(ctx context.Context, call string, ambiguousDone bool,
	plan func(ctx context.Context, written []string) ([]string, *answer, error),
	write func(ctx context.Context, id string) error,
	refused func(id, reason string) answer,
) ([]string, *answer, error) {
	var written []string
	mark := func(id string) {
		if !slices.Contains(written, id) {
			written = append(written, id)
		}
	}
	backoff := s.backoffBase()
	for {
		ids, a, err := plan(ctx, written)
		if err != nil || a != nil {
			return written, a, err
		}
		again := false
		for _, id := range ids {
			err := s.attempt(ctx, call, func(ctx context.Context) error { return write(ctx, id) })
			if err == nil {
				mark(id)
				continue
			}
			if stopped(ctx, err) {
				return written, nil, err
			}
			if reason, ok := refusal(err); ok {
				a := refused(id, reason)
				return written, &a, nil
			}
			if ambiguousDone && ambiguous(err) {
				mark(id)
			}
			// A failure, or a 404 (the record went meanwhile): wait, then
			// look again.
			if err := s.wait(ctx, err, &backoff); err != nil {
				return written, nil, err
			}
			again = true
			break
		}
		if !again {
			return written, nil, nil
		}
	}
}

// standingRecord is a record a cancel's look-up found with the command's
// reference.
type standingRecord struct {
	id     string
	active bool   // not cancelled
	locked string // why it can no longer be cancelled (work started on it); "" when it can
}

// cancelAll cancels every record that stands with reference ref, unless
// work started on one of them. lookup reads the records, cancel makes one
// attempt on one, refuse answers the command rejected with a reason (the
// sink's, for a record work started on, or Clarus's refusal). what names
// the records in answers ("goods out"), cancelled is the ack status. A
// record a cancel deleted is no longer listed: the cancels sent say what
// was done.
func (s *sinkLoop) cancelAll(ctx context.Context, ref, what, cancelled string,
	lookup func(context.Context) ([]standingRecord, error),
	cancel func(context.Context, string) error,
	refuse func(reason string) answer,
) (answer, error) {
	sent, a, err := s.writeAll(ctx, "cancel", true, func(ctx context.Context, sent []string) ([]string, *answer, error) {
		all, err := lookup(ctx)
		if err != nil {
			return nil, nil, err
		}
		var active []string
		var gone string
		for _, r := range all {
			switch {
			case r.active && r.locked != "":
				a := refuse(r.locked)
				return nil, &a, nil
			case r.active:
				active = append(active, r.id)
			case gone == "":
				gone = r.id
			}
		}
		if len(active) > 0 {
			return active, nil, nil
		}
		a := answer{status: cancelled, reason: fmt.Sprintf("no %s with reference %s in Clarus: nothing to cancel", what, ref)}
		switch {
		case len(sent) > 0:
			a = answer{status: cancelled, clarusID: sent[0]}
		case gone != "":
			a = answer{status: cancelled, clarusID: gone, reason: "already cancelled in Clarus"}
		}
		return nil, &a, nil
	}, cancel, func(_, reason string) answer { return refuse("Clarus refused the cancel: " + reason) })
	if err != nil || a != nil {
		return deref(a), err
	}
	return answer{status: cancelled, clarusID: sent[0]}, nil
}
