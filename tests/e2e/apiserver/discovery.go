package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	discoveryendpoint "k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
)

// The apiextensions-apiserver is built to sit behind kube-apiserver's
// aggregator, which serves the root group list /apis. Standalone it answers
// /apis with 404, and kubectl then finds no resource types at all. rootAPIs
// serves /apis the way kube-apiserver does: the aggregated document (which
// the apiextensions-apiserver keeps up to date, CRDs included) to clients
// that ask for it, and to the others a legacy APIGroupList derived from that
// same document, so both answers always agree.
func rootAPIs(aggregated http.Handler) http.Handler {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		inner := httptest.NewRequest(http.MethodGet, "/apis", nil).WithContext(r.Context())
		inner.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
		rec := httptest.NewRecorder()
		aggregated.ServeHTTP(rec, inner)
		var doc apidiscoveryv2.APIGroupDiscoveryList
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
			http.Error(w, "discovery document unavailable", http.StatusServiceUnavailable)
			return
		}
		list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
		for _, g := range doc.Items {
			group := metav1.APIGroup{Name: g.Name}
			for _, v := range g.Versions {
				gv := metav1.GroupVersionForDiscovery{GroupVersion: g.Name + "/" + v.Version, Version: v.Version}
				group.Versions = append(group.Versions, gv)
			}
			if len(group.Versions) == 0 {
				continue
			}
			group.PreferredVersion = group.Versions[0] // the document lists versions by priority
			list.Groups = append(list.Groups, group)
		}
		body, err := json.Marshal(&list)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	return discoveryendpoint.WrapAggregatedDiscoveryToHandler(legacy, aggregated, nil)
}
