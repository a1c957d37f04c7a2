package proxy

import (
	"mime"
	"net/http"
	"strings"
)

// acceptsJSON reports whether the watch cache's plain JSON answers this
// Accept header. Anything asking for a transformation ("as=Table",
// "as=PartialObjectMetadataList") or protobuf goes to the upstream, even
// when JSON is also listed as acceptable: the client prefers the other
// form (kubectl's server-side printing asks for Table first), and Table
// and List answers must never mix.
func acceptsJSON(h http.Header) bool {
	vals := h.Values("Accept")
	if len(vals) == 0 {
		return true
	}
	all := strings.ToLower(strings.Join(vals, ","))
	if strings.Contains(all, "protobuf") || strings.Contains(all, "as=") {
		return false
	}
	for _, r := range strings.Split(all, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "application/*", "*/*":
			return true
		}
	}
	return strings.TrimSpace(all) == ""
}

// streamingRequest reports whether a GET asks for a stream that must never
// be buffered: a watch, a followed log, a legacy /watch/ path.
func streamingRequest(r *http.Request) bool {
	q := r.URL.Query()
	return isTrue(q.Get("watch")) || isTrue(q.Get("follow")) || strings.Contains(r.URL.Path, "/watch/")
}
