package certify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// sarifObject is what the SARIF 2.1.0 JSON schema (OASIS sarif-schema-2.1.0,
// the one json.schemastore.org serves) says of each object certify emits:
// its required properties, every property it allows (the schema sets
// additionalProperties false on these), and which object each child is.
type sarifObject struct {
	required []string
	allowed  []string
	children map[string]string // property -> object kind ("[]" prefix: array of)
}

var sarifSchemaFacts = map[string]sarifObject{
	"sarifLog": {[]string{"version", "runs"}, []string{"$schema", "version", "runs", "inlineExternalProperties", "properties"},
		map[string]string{"runs": "[]run"}},
	"run": {[]string{"tool"}, []string{"tool", "invocations", "conversion", "language", "versionControlProvenance", "originalUriBaseIds",
		"artifacts", "logicalLocations", "graphs", "results", "automationDetails", "runAggregates", "baselineGuid", "redactionTokens",
		"defaultEncoding", "defaultSourceLanguage", "newlineSequences", "columnKind", "externalPropertyFileReferences",
		"threadFlowLocations", "taxonomies", "addresses", "translations", "policies", "webRequests", "webResponses", "specialLocations", "properties"},
		map[string]string{"tool": "tool", "results": "[]result"}},
	"tool": {[]string{"driver"}, []string{"driver", "extensions", "properties"}, map[string]string{"driver": "toolComponent"}},
	"toolComponent": {[]string{"name"}, []string{"guid", "name", "organization", "product", "productSuite", "shortDescription",
		"fullDescription", "fullName", "version", "semanticVersion", "dottedQuadFileVersion", "releaseDateUtc", "downloadUri",
		"informationUri", "globalMessageStrings", "notifications", "rules", "taxa", "locations", "language", "contents",
		"isComprehensive", "localizedDataSemanticVersion", "minimumRequiredLocalizedDataSemanticVersion", "associatedComponent",
		"translationMetadata", "supportedTaxonomies", "properties"},
		map[string]string{"rules": "[]reportingDescriptor", "shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString"}},
	"reportingDescriptor": {[]string{"id"}, []string{"id", "deprecatedIds", "guid", "deprecatedGuids", "name", "deprecatedNames",
		"shortDescription", "fullDescription", "messageStrings", "defaultConfiguration", "helpUri", "help", "relationships", "properties"},
		map[string]string{"shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString",
			"help": "multiformatMessageString", "defaultConfiguration": "reportingConfiguration"}},
	"multiformatMessageString": {[]string{"text"}, []string{"text", "markdown", "properties"}, nil},
	"reportingConfiguration":   {nil, []string{"enabled", "level", "rank", "parameters", "properties"}, nil},
	"result": {[]string{"message"}, []string{"ruleId", "ruleIndex", "rule", "kind", "level", "message", "analysisTarget", "locations",
		"guid", "correlationGuid", "occurrenceCount", "partialFingerprints", "fingerprints", "stacks", "codeFlows", "graphs",
		"graphTraversals", "relatedLocations", "suppressions", "baselineState", "rank", "attachments", "hostedViewerUri",
		"workItemUris", "provenance", "fixes", "taxa", "webRequest", "webResponse", "properties"},
		map[string]string{"message": "message", "locations": "[]location"}},
	"message": {nil, []string{"text", "markdown", "id", "arguments", "properties"}, nil}, // anyOf: text or id
	"location": {nil, []string{"id", "physicalLocation", "logicalLocations", "message", "annotations", "relationships", "properties"},
		map[string]string{"physicalLocation": "physicalLocation", "logicalLocations": "[]logicalLocation"}},
	"physicalLocation": {nil, []string{"address", "artifactLocation", "region", "contextRegion", "properties"}, // anyOf: address or artifactLocation
		map[string]string{"artifactLocation": "artifactLocation", "region": "region"}},
	"artifactLocation": {nil, []string{"uri", "uriBaseId", "index", "description", "properties"}, nil},
	"region": {nil, []string{"startLine", "startColumn", "endLine", "endColumn", "charOffset", "charLength", "byteOffset",
		"byteLength", "snippet", "message", "sourceLanguage", "properties"}, nil},
	"logicalLocation": {nil, []string{"name", "index", "fullyQualifiedName", "decoratedName", "parentIndex", "kind", "properties"}, nil},
}

// levels is the schema's enum for result.level and reportingConfiguration.level.
var levels = []string{"none", "note", "warning", "error"}

// validateSARIF checks a document against the facts above and the schema's
// value constraints certify could get wrong; it returns every violation.
func validateSARIF(doc any) []string {
	var bad []string
	var walk func(kind, at string, v any)
	walk = func(kind, at string, v any) {
		if arr, ok := strings.CutPrefix(kind, "[]"); ok {
			items, isArr := v.([]any)
			if !isArr {
				bad = append(bad, at+": not an array")
				return
			}
			for i, it := range items {
				walk(arr, fmt.Sprintf("%s[%d]", at, i), it)
			}
			return
		}
		obj, ok := v.(map[string]any)
		if !ok {
			bad = append(bad, at+": not an object")
			return
		}
		facts := sarifSchemaFacts[kind]
		for _, r := range facts.required {
			if _, ok := obj[r]; !ok {
				bad = append(bad, fmt.Sprintf("%s (%s): missing required %q", at, kind, r))
			}
		}
		for k, child := range obj {
			if !slices.Contains(facts.allowed, k) {
				bad = append(bad, fmt.Sprintf("%s (%s): property %q not allowed", at, kind, k))
			}
			if ck, ok := facts.children[k]; ok {
				walk(ck, at+"."+k, child)
			}
		}
		switch kind {
		case "sarifLog":
			if obj["version"] != "2.1.0" {
				bad = append(bad, fmt.Sprintf("%s: version %v, want 2.1.0", at, obj["version"]))
			}
		case "result", "reportingConfiguration":
			if l, ok := obj["level"]; ok && !slices.Contains(levels, fmt.Sprint(l)) {
				bad = append(bad, fmt.Sprintf("%s: level %v not in %v", at, l, levels))
			}
			if i, ok := obj["ruleIndex"].(float64); ok && (i < -1 || i != float64(int(i))) {
				bad = append(bad, fmt.Sprintf("%s: ruleIndex %v", at, i))
			}
		case "message":
			if obj["text"] == nil && obj["id"] == nil {
				bad = append(bad, at+": message needs text or id")
			}
		case "physicalLocation":
			if obj["artifactLocation"] == nil && obj["address"] == nil {
				bad = append(bad, at+": physicalLocation needs artifactLocation or address")
			}
		case "region":
			if l, ok := obj["startLine"].(float64); ok && (l < 1 || l != float64(int(l))) {
				bad = append(bad, fmt.Sprintf("%s: startLine %v", at, l))
			}
		case "artifactLocation":
			if u, ok := obj["uri"].(string); !ok {
				bad = append(bad, at+": uri is not a string")
			} else if _, err := url.Parse(u); err != nil {
				bad = append(bad, fmt.Sprintf("%s: uri %q: %v", at, u, err))
			}
		}
	}
	walk("sarifLog", "$", doc)
	return bad
}

// A run with findings gives a SARIF log that meets the 2.1.0 schema, each
// result pointing at its rule and at its manifest line.
func TestSARIFValidates(t *testing.T) {
	in := reference()
	in.VClusters = []string{"negative/vcluster-pool-properties.yaml"}
	in.NodeProviders = []string{"negative/node-provider-metal3-no-image.yaml"}
	rep := certifyRun(t, in)
	if len(rep.Findings) == 0 {
		t.Fatal("no findings to report")
	}
	var b bytes.Buffer
	if err := rep.WriteSARIF(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range validateSARIF(doc) {
		t.Error(v)
	}
	run := doc["runs"].([]any)[0].(map[string]any)
	rules := run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)
	results := run["results"].([]any)
	if len(results) != len(rep.Findings) {
		t.Fatalf("%d results for %d findings", len(results), len(rep.Findings))
	}
	lined := 0
	for i, r := range results {
		res := r.(map[string]any)
		rule := rules[int(res["ruleIndex"].(float64))].(map[string]any)
		if rule["id"] != res["ruleId"] {
			t.Errorf("result %d: ruleIndex names %v, ruleId is %v", i, rule["id"], res["ruleId"])
		}
		if rep.Findings[i].Line > 0 {
			lined++
		}
	}
	if lined == 0 {
		t.Error("no finding has a line: nothing shows on a manifest line")
	}
}

// The validator catches what it checks: a log with a wrong version, a
// missing message, a bad level and an unknown property.
func TestSARIFValidatorCatches(t *testing.T) {
	doc := map[string]any{"version": "2.0.0", "runs": []any{map[string]any{
		"tool":    map[string]any{"driver": map[string]any{"name": "x", "colour": "red"}},
		"results": []any{map[string]any{"level": "fatal"}},
	}}}
	got := strings.Join(validateSARIF(doc), "\n")
	for _, want := range []string{"version 2.0.0", `missing required "message"`, "level fatal", `property "colour" not allowed`} {
		if !strings.Contains(got, want) {
			t.Errorf("validator missed %q; it said:\n%s", want, got)
		}
	}
}
