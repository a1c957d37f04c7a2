package fakeapi

import "encoding/json"

// The wire types: just enough of the Kubernetes core/v1 shapes for a client
// to decode what the server sends.

// Pod is a trimmed core/v1 Pod.
type Pod struct {
	Kind       string     `json:"kind"`
	APIVersion string     `json:"apiVersion"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       PodSpec    `json:"spec"`
	Status     PodStatus  `json:"status"`
}

// ObjectMeta is a trimmed metav1.ObjectMeta.
type ObjectMeta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	UID             string            `json:"uid"`
	ResourceVersion string            `json:"resourceVersion"`
	Generation      int64             `json:"generation"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// PodSpec is a trimmed core/v1 PodSpec.
type PodSpec struct {
	NodeName string `json:"nodeName,omitempty"`
	Image    string `json:"image,omitempty"`
}

// PodStatus is a trimmed core/v1 PodStatus.
type PodStatus struct {
	Phase string `json:"phase"`
}

// PodList is the answer to a LIST.
type PodList struct {
	Kind       string   `json:"kind"`
	APIVersion string   `json:"apiVersion"`
	Metadata   ListMeta `json:"metadata"`
	Items      []Pod    `json:"items"`
}

// ListMeta carries the resourceVersion a LIST was taken at.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion"`
}

// WatchEvent is one line of a watch stream.
type WatchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// Status is metav1.Status, the body of every error answer (and the object of
// an ERROR watch event).
type Status struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Status     string `json:"status"`
	Message    string `json:"message"`
	Reason     string `json:"reason"`
	Code       int    `json:"code"`
}

// Watch event types, as Kubernetes spells them.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Bookmark = "BOOKMARK"
	Error    = "ERROR"
)

func failure(code int, reason, message string) Status {
	return Status{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: message, Reason: reason, Code: code}
}
