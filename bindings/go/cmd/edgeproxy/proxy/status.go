package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/edgecache/edgecache/bindings/go/edgecache"
)

// Status is the apiserver's metav1.Status, the body of every error the
// proxy answers itself (and of an ERROR watch event).
type Status struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   struct{}       `json:"metadata"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Details    *StatusDetails `json:"details,omitempty"`
	Code       int            `json:"code"`
}

// StatusDetails is metav1.StatusDetails.
type StatusDetails struct {
	Name              string        `json:"name,omitempty"`
	Group             string        `json:"group,omitempty"`
	Kind              string        `json:"kind,omitempty"`
	Causes            []StatusCause `json:"causes,omitempty"`
	RetryAfterSeconds int           `json:"retryAfterSeconds,omitempty"`
}

// StatusCause is metav1.StatusCause (Type is spelled "reason" on the wire).
type StatusCause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

func failure(code int, reason, message string) *Status {
	return &Status{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: message, Reason: reason, Code: code}
}

func badRequest(msg string) *Status { return failure(http.StatusBadRequest, "BadRequest", msg) }

func notFound(c *collection, name string) *Status {
	st := failure(http.StatusNotFound, "NotFound", fmt.Sprintf("%s %q not found", c.qualifiedResource(), name))
	st.Details = &StatusDetails{Name: name, Group: c.Group, Kind: c.Resource}
	return st
}

// expiredStatus is the 410 Gone the apiserver sends for a resourceVersion
// older than its window ("too old resource version: X (Y)").
func expiredStatus(e *edgecache.ResourceExpiredError) *Status {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("too old resource version: %d (%d)", e.Requested, e.Oldest)
	}
	return failure(http.StatusGone, "Expired", msg)
}

// tooLargeStatus is the apiserver's storage.NewTooLargeResourceVersionError:
// 504, reason Timeout, the ResourceVersionTooLarge cause client-go's
// IsTooLargeResourceVersion checks, and a one-second retry hint.
func tooLargeStatus(requested, current uint64) *Status {
	st := failure(http.StatusGatewayTimeout, "Timeout",
		fmt.Sprintf("Too large resource version: %d, current: %d", requested, current))
	st.Details = &StatusDetails{
		Causes:            []StatusCause{{Type: "ResourceVersionTooLarge", Message: "Too large resource version"}},
		RetryAfterSeconds: 1,
	}
	return st
}

func unavailable(msg string) *Status {
	st := failure(http.StatusServiceUnavailable, "ServiceUnavailable", msg)
	st.Details = &StatusDetails{RetryAfterSeconds: 1}
	return st
}

func badGateway(msg string) *Status { return failure(http.StatusBadGateway, "InternalError", msg) }

// statusFor maps an error of the watch cache to the apiserver's Status.
func statusFor(err error) *Status {
	var expired *edgecache.ResourceExpiredError
	var tooLarge *edgecache.TooLargeResourceVersionError
	switch {
	case errors.As(err, &expired):
		return expiredStatus(expired)
	case errors.As(err, &tooLarge):
		return tooLargeStatus(tooLarge.Requested, tooLarge.Current)
	case errors.Is(err, edgecache.ErrInvalidSelector):
		return badRequest(trimPrefix(err))
	case errors.Is(err, edgecache.ErrInvalidArgument):
		return badRequest(trimPrefix(err))
	case errors.Is(err, edgecache.ErrClosed):
		return unavailable("the proxy is shutting down")
	}
	return failure(http.StatusInternalServerError, "InternalError", err.Error())
}

// trimPrefix drops the binding's "edgecache: " from an error's text.
func trimPrefix(err error) string {
	const p = "edgecache: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func (st *Status) encode() []byte {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err) // a Status always encodes
	}
	return b
}

// writeStatus answers with st as the HTTP response.
func writeStatus(w http.ResponseWriter, st *Status) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		h.Set("Retry-After", strconv.Itoa(st.Details.RetryAfterSeconds))
	}
	w.WriteHeader(st.Code)
	_, _ = w.Write(st.encode())
}
