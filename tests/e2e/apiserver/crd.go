package apiserver

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

// The custom resource every Server serves.
const (
	Group    = "edge.example.com"
	Version  = "v1"
	Kind     = "Widget"
	ListKind = "WidgetList"
	Plural   = "widgets"
	Singular = "widget"
	// ShortName works with kubectl: `kubectl get wg`.
	ShortName = "wg"
	// Category works with kubectl: `kubectl get edge`.
	Category = "edge"
	// CRDName is the CustomResourceDefinition's metadata.name.
	CRDName = Plural + "." + Group
	// LabelPartOf is set on the CRD (value "edgecache-e2e").
	LabelPartOf = "app.kubernetes.io/part-of"
)

// WidgetGVR is the Widget collection's GroupVersionResource.
var WidgetGVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Plural}

// WidgetGVK is the Widget kind's GroupVersionKind.
var WidgetGVK = schema.GroupVersionKind{Group: Group, Version: Version, Kind: Kind}

// widgetCRD is the Widget definition: namespaced, a status subresource, a
// schema with spec.color (a selectable field, so `fieldSelector=spec.color=red`
// works server-side), spec.size, status.phase, and printer columns so
// kubectl's server-side Table shows COLOR, SIZE, PHASE and AGE.
func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{
			Name: CRDName,
			Labels: map[string]string{
				LabelPartOf:                "edgecache-e2e",
				"edge.example.com/fixture": "true",
			},
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: Group,
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural:     Plural,
				Singular:   Singular,
				Kind:       Kind,
				ListKind:   ListKind,
				ShortNames: []string{ShortName},
				Categories: []string{Category},
			},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name:    Version,
				Served:  true,
				Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{
					OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
						Type: "object",
						Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"spec": {
								Type: "object",
								Properties: map[string]apiextensionsv1.JSONSchemaProps{
									"color": str,
									"size":  {Type: "integer"},
									"note":  str,
								},
								// Room for whatever a test wants to store.
								XPreserveUnknownFields: ptr.To(true),
							},
							"status": {
								Type: "object",
								Properties: map[string]apiextensionsv1.JSONSchemaProps{
									"phase":              str,
									"observedGeneration": {Type: "integer"},
								},
								XPreserveUnknownFields: ptr.To(true),
							},
						},
					},
				},
				Subresources: &apiextensionsv1.CustomResourceSubresources{
					Status: &apiextensionsv1.CustomResourceSubresourceStatus{},
				},
				SelectableFields: []apiextensionsv1.SelectableField{{JSONPath: ".spec.color"}},
				AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
					{Name: "Color", Type: "string", JSONPath: ".spec.color"},
					{Name: "Size", Type: "integer", JSONPath: ".spec.size"},
					{Name: "Phase", Type: "string", JSONPath: ".status.phase"},
					{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
				},
			}},
		},
	}
}
