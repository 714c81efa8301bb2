package alert

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestRawFieldsReadAsMap: every accessor gives the same answer for an
// alert whose output_fields are indexed (RawFields) as for one holding
// their encoding/json decoding (OutputFields), repeated names and escaped
// strings included.
func TestRawFieldsReadAsMap(t *testing.T) {
	raw := []RawField{
		{"container.name", `"web"`}, {"n", `1795425121123456789`}, {"f", `-1.5e3`}, {"b", `true`}, {"z", `null`},
		{"esc", `"a\"b\u00e9\n"`}, {"o", `{"x":[1,{"y":null}]}`}, {"n", `2`}, {"a", `[]`},
	}
	js := "{"
	for i, f := range raw {
		if i > 0 {
			js += ","
		}
		k, _ := json.Marshal(f.Key)
		js += string(k) + ":" + f.Value
	}
	js += "}"
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	indexed, mapped := &Alert{RawFields: raw}, &Alert{OutputFields: m}
	if got := indexed.Fields(); !reflect.DeepEqual(got, m) {
		t.Fatalf("Fields %#v\nwant %#v", got, m)
	}
	for _, name := range []string{"container.name", "n", "f", "b", "z", "esc", "o", "a", "absent"} {
		s1, ok1 := indexed.Field(name)
		s2, ok2 := mapped.Field(name)
		v1, vok1 := indexed.FieldValue(name)
		v2, vok2 := mapped.FieldValue(name)
		if s1 != s2 || ok1 != ok2 || !reflect.DeepEqual(v1, v2) || vok1 != vok2 {
			t.Errorf("%s: indexed %q %v %#v %v, map %q %v %#v %v", name, s1, ok1, v1, vok1, s2, ok2, v2, vok2)
		}
	}
	if !indexed.HasNestedField() || !mapped.HasNestedField() {
		t.Error("nested field not seen")
	}
	flat := &Alert{RawFields: raw[:6]}
	if flat.HasNestedField() || (&Alert{OutputFields: map[string]any{"a": "b"}}).HasNestedField() {
		t.Error("flat fields seen as nested")
	}
	indexed.SetFields(map[string]any{"k": "v"})
	if indexed.RawFields != nil || indexed.RawOutputFields != nil {
		t.Fatal("SetFields kept the sender's fields")
	}
	if s, _ := indexed.Field("k"); s != "v" {
		t.Fatal(s)
	}
}

// TestUnquoteAsEncodingJSON: escapes decode as encoding/json decodes them,
// surrogate halves without their pair included.
func TestUnquoteAsEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`""`, `"plain"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u00E9x"`, `"\u003cNA\u003e"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`,
		`"\ud83d\u0041"`, `"\udc00\ud83d"`, `"\ud83d\ud83d\ude00"`, `"a\\b\\"`, `"é\u0000ü"`, `"\u2028"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, ok := Unquote(raw)
		if !ok || got != want {
			t.Errorf("%s: unquote %q %v, encoding/json %q", raw, got, ok, want)
		}
	}
}
