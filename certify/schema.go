package certify

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/config/strictyaml"
)

// checkSchema validates a vcluster.yaml against the chart's JSON schema
// (CC002) with a real JSON-schema validator. Each leaf violation becomes a
// finding at its YAML path.
func (r *run) checkSchema(vf *config.VClusterFile) {
	if r.in.VClusterSchema == "" {
		r.skip(CheckVClusterSchema, "no --vcluster-schema given")
		return
	}
	sch, err := r.compileSchema()
	if err != nil {
		r.add(CheckVClusterSchema, SeverityError, r.in.VClusterSchema, "", 0, "cannot use the schema: %v", err)
		return
	}
	raw, err := json.Marshal(vf.Generic)
	if err != nil {
		r.add(CheckVClusterSchema, SeverityError, vf.File, "", 0, "cannot convert to JSON: %v", err)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		r.add(CheckVClusterSchema, SeverityError, vf.File, "", 0, "cannot convert to JSON: %v", err)
		return
	}
	if vf.Generic == nil {
		inst = map[string]any{}
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if err == nil {
		return
	}
	if !errors.As(err, &ve) {
		r.add(CheckVClusterSchema, SeverityError, vf.File, "", 0, "%v", err)
		return
	}
	p := message.NewPrinter(language.English)
	for _, leaf := range leaves(ve) {
		path := ""
		for _, tok := range leaf.InstanceLocation {
			if _, err := strconv.Atoi(tok); err == nil {
				path += "[" + tok + "]"
			} else {
				path = strictyaml.Child(path, tok)
			}
		}
		r.add(CheckVClusterSchema, SeverityError, vf.File, path, vf.Line(path), "chart schema: %s", leaf.ErrorKind.LocalizedString(p))
	}
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func (r *run) compileSchema() (*jsonschema.Schema, error) {
	data, err := r.read(r.in.VClusterSchema)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("values.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("values.schema.json")
}
