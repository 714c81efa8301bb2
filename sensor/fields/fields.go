// Package fields is the registry of filter and output fields (evt.*, proc.*,
// fd.*, user.*, group.*, container.*, k8s.*…): each field's name, type,
// description and extractor over an event.Event. The rule compiler resolves
// condition fields here; the output formatter resolves %fields here; `saker
// rules fields` prints the registry.
package fields

import (
	"net/netip"

	"github.com/saker-sec/saker/sensor/event"
)

// Type is a field's value type; it decides how a condition's right-hand
// side is parsed and compared and how the value is printed.
type Type uint8

// Field value types (Falco's PT_* names in comments).
const (
	String  Type = iota // PT_CHARBUF, PT_FSPATH…: compared as strings
	Int64               // PT_INT64, PT_ERRNO, PT_PID
	Uint64              // PT_UINT64, PT_UINT32…
	Bool                // PT_BOOL
	IPAddr              // PT_IPADDR (v4 or v6), compared by address; RHS may be a CIDR for IPNet
	IPNet               // PT_IPNET
	Port                // PT_PORT: RHS may be a service name
	AbsTime             // PT_ABSTIME: ns since epoch, printed as a time
	RelTime             // PT_RELTIME: a duration in ns
	Bytes               // PT_BYTEBUF: compared bytewise (bcontains, bstartswith)
	Flags               // PT_FLAGS32: numeric flags printed as names (O_RDONLY|O_CLOEXEC)
	Int16               // PT_INT16: compared and printed as Int64
	Int32               // PT_INT32: compared and printed as Int64
	Uint32              // PT_UINT32: compared and printed as Uint64
	Double              // PT_DOUBLE: Value.F, printed with one decimal
)

// Unsigned reports whether values of t print as unsigned numbers.
func (t Type) Unsigned() bool { return t == Uint64 || t == Uint32 || t == Port }

// Numeric reports whether values of t are numbers (Value.N), compared
// numerically.
func (t Type) Numeric() bool {
	switch t {
	case Int64, Uint64, Int16, Int32, Uint32, AbsTime, RelTime, Flags, Port, Bool:
		return true
	}
	return false
}

// String returns the Falco type name used in `saker rules fields`.
func (t Type) String() string {
	switch t {
	case String:
		return "CHARBUF"
	case Int64:
		return "INT64"
	case Uint64:
		return "UINT64"
	case Bool:
		return "BOOL"
	case IPAddr:
		return "IPADDR"
	case IPNet:
		return "IPNET"
	case Port:
		return "PORT"
	case AbsTime:
		return "ABSTIME"
	case RelTime:
		return "RELTIME"
	case Bytes:
		return "BYTEBUF"
	case Flags:
		return "FLAGS32"
	case Int16:
		return "INT16"
	case Int32:
		return "INT32"
	case Uint32:
		return "UINT32"
	case Double:
		return "DOUBLE"
	}
	return "UNKNOWN"
}

// ArgKind says whether and how a field takes a bracketed argument.
type ArgKind uint8

// Argument kinds.
const (
	NoArg       ArgKind = iota // proc.name
	IndexArg                   // proc.aname[2]: optional non-negative integer
	KeyArg                     // proc.env[HOME], container.label[app]: required string
	IndexOrKey                 // evt.arg[0] or evt.arg.flags / container.mount.dest[/proc*]
	RequiredArg                // must have one
)

// Value is an extracted field value. Exactly one representation is used,
// chosen by the field's Type: S for String, F for Double, N for the integer types, Port,
// Bool, AbsTime and RelTime (0/1 for Bool), IP for IPAddr and IPNet, B for
// Bytes. Flags fields carry both N (the raw bits) and S (the rendered names). A multi-valued field (proc.aname without an index,
// fd.types) sets List; each comparison then succeeds if any element matches,
// as Falco does.
//
// Values may alias memory owned by the event or the state tables: callers
// must not retain them past the evaluation of the event.
type Value struct {
	S    string
	N    int64
	F    float64 // Double fields
	B    []byte
	IP   netip.Addr
	List []string
	// IsList marks List as the value (it may legitimately be empty).
	IsList bool
	// Either marks the either-end network fields (fd.ip, fd.net,
	// fd.port): IP/N hold the client end and IP2/N2 the server end, and a
	// comparison matches if it matches either end, as Falco's fd.ip does.
	// Two fixed slots instead of a List keep them allocation-free.
	Either bool
	IP2    netip.Addr
	N2     int64
}

// Extractor extracts a field from an event. It returns ok=false when the
// value cannot be extracted (Falco's missing value, printed <NA>); every
// comparison on a missing value is false.
type Extractor func(ev *event.Event) (v Value, ok bool)

// StrFunc extracts a single string value and NumFunc a single number (the
// integer types, Bool as 0/1, Port, times): the fast paths the rule
// compiler uses for scalar fields, returning in registers instead of
// building a Value. ok=false is a missing value, as for Extractor.
type (
	StrFunc func(ev *event.Event) (string, bool)
	NumFunc func(ev *event.Event) (int64, bool)
	IPFunc  func(ev *event.Event) (netip.Addr, bool)
)

// strExtractor and numExtractor wrap a fast path as an Extractor.
func strExtractor(get StrFunc) Extractor {
	return func(ev *event.Event) (Value, bool) {
		s, ok := get(ev)
		return Value{S: s}, ok
	}
}

func numExtractor(get NumFunc) Extractor {
	return func(ev *event.Event) (Value, bool) {
		n, ok := get(ev)
		return Value{N: n}, ok
	}
}

func ipExtractor(get IPFunc) Extractor {
	return func(ev *event.Event) (Value, bool) {
		a, ok := get(ev)
		return Value{IP: a}, ok
	}
}

// Field describes one registered field.
type Field struct {
	Name string // "proc.aname"
	Type Type
	Desc string
	Arg  ArgKind
	// FilterOnly fields (fd.ip, fd.net, fd.port) may be used in conditions
	// but not in outputs, as in libs (EPF_FILTER_ONLY).
	FilterOnly bool
	// EventTypes lists the event types the field can be extracted from;
	// nil means any. The compiler uses it for warnings only.
	EventTypes []event.Type
	// make builds the extractor for an argument (arg is "" when none given,
	// hasArg tells a present empty argument apart).
	make func(arg string, hasArg bool) (Extractor, error)
	// multiWithoutIndex marks fields that, used without an index, extract a
	// list and match if any element does: ancestors (proc.aname…), fd.types,
	// and the either-end network fields fd.ip, fd.port, fd.net, fd.proto.
	multiWithoutIndex bool
	// typeFor, when set, gives the value type for an argument (evt.rawarg.X
	// is numeric or a string depending on X); Resolved.Type carries it.
	typeFor func(arg string) Type
	// str and num are the scalar fast paths of a field used without an
	// argument (at most one is set, matching Type; ip for IPAddr and
	// IPNet).
	str StrFunc
	num NumFunc
	ip  IPFunc
}

// Resolved is a field bound to its argument, ready to extract.
type Resolved struct {
	Field   *Field
	Arg     string // the bracketed or dotted argument, as written
	HasArg  bool
	Extract Extractor
	// Type is the value type for this argument: Field.Type, except for
	// fields whose type depends on the argument (evt.rawarg.NAME).
	Type Type
	// List marks a Falco plugin list field (EPF_IS_LIST, such as
	// ka.req.pod.containers.image): "in" then holds when every element is
	// in the set, "intersects" when any is.
	List bool
	// Multi is true when the extractor returns lists (e.g. proc.aname
	// without an index): comparisons then match if any element matches.
	// Lists are strings even for numeric types (proc.apid): the comparison
	// parses them.
	Multi bool
	// Str and Num, when set, extract the same value as Extract without
	// building a Value (Str for string fields, Num for numeric ones, IP
	// for addresses).
	Str StrFunc
	Num NumFunc
	IP  IPFunc
}
