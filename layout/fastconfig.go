package layout

import "time"

// An image config's rule (configViolations) is that encoding/json decodes it into an
// ocispec.Image: a type check, and what it cost was the decode, which builds the whole config
// to throw it away (an export of 20,000 images: 0.1 s of CPU, a twentieth of it). fastConfigOK
// makes the same check without building anything, for the common shape: it answers true only
// where encoding/json certainly decodes the config without error, and false for anything it
// does not read exactly as encoding/json does (a key encoding/json would fold onto a field, a
// value of another type), and encoding/json decides then. FuzzConfigOK checks that whatever it
// passes, encoding/json decodes.

// imageFields are the keys of an ocispec.Image (its Platform's promoted), for unknown.
var imageFields = []string{"created", "author", "architecture", "os", "os.version", "os.features", "variant", "config", "rootfs", "history"}

// imageConfigFields are the keys of an ocispec.ImageConfig.
var imageConfigFields = []string{"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal", "ArgsEscaped"}

// rootFSFields and historyFields are the keys of an ocispec.RootFS and an ocispec.History.
var (
	rootFSFields  = []string{"type", "diff_ids"}
	historyFields = []string{"created", "created_by", "author", "comment", "empty_layer"}
)

// fastConfigOK reports whether encoding/json certainly decodes data, which strictjson.Check
// accepted, into an ocispec.Image without error; false is "cannot tell".
func fastConfigOK(data []byte) bool {
	c := &jsonCursor{data: data}
	if err := c.object(c.imageField); err != nil {
		return false
	}
	c.ws()
	return c.i == len(data)
}

// imageField reads the value of key in an image config, as its type wants.
func (c *jsonCursor) imageField(key string) error {
	switch key {
	case "created":
		return c.timeValue()
	case "author", "architecture", "os", "os.version", "variant":
		return c.strValue()
	case "os.features":
		return c.strListValue()
	case "config":
		return c.objectValue(c.imageConfigField)
	case "rootfs":
		return c.objectValue(c.rootFSField)
	case "history":
		return c.arrayValue(func() error { return c.objectValue(c.historyField) })
	}
	_, err := c.unknown(key, imageFields...)
	return err
}

// imageConfigField reads the value of key in an image config's "config" object.
func (c *jsonCursor) imageConfigField(key string) error {
	switch key {
	case "User", "WorkingDir", "StopSignal":
		return c.strValue()
	case "Env", "Entrypoint", "Cmd":
		return c.strListValue()
	case "ExposedPorts", "Volumes": // map[string]struct{}: objects, whatever they hold
		return c.objectValue(func(string) error { return c.objectValue(func(string) error { return c.skip() }) })
	case "Labels":
		return c.objectValue(func(string) error { return c.strValue() })
	case "ArgsEscaped":
		return c.boolValue()
	}
	_, err := c.unknown(key, imageConfigFields...)
	return err
}

// rootFSField reads the value of key in an image config's "rootfs" object.
func (c *jsonCursor) rootFSField(key string) error {
	switch key {
	case "type":
		return c.strValue()
	case "diff_ids":
		return c.strListValue()
	}
	_, err := c.unknown(key, rootFSFields...)
	return err
}

// historyField reads the value of key in an element of an image config's "history".
func (c *jsonCursor) historyField(key string) error {
	switch key {
	case "created":
		return c.timeValue()
	case "created_by", "author", "comment":
		return c.strValue()
	case "empty_layer":
		return c.boolValue()
	}
	_, err := c.unknown(key, historyFields...)
	return err
}

// strValue reads past a string, or null, without making it.
func (c *jsonCursor) strValue() error {
	if c.null() {
		return nil
	}
	return c.skipStr()
}

// strListValue reads past an array of strings (or nulls), or null.
func (c *jsonCursor) strListValue() error {
	return c.arrayValue(c.strValue)
}

// boolValue reads past true, false or null.
func (c *jsonCursor) boolValue() error {
	lit := ""
	switch c.peek() {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	case 'n':
		lit = "null"
	default:
		return errUnusual
	}
	if len(c.data)-c.i < len(lit) || string(c.data[c.i:c.i+len(lit)]) != lit {
		return errUnusual
	}
	c.i += len(lit)
	return nil
}

// objectValue reads an object, fn reading each key's value, or null.
func (c *jsonCursor) objectValue(fn func(key string) error) error {
	if c.null() {
		return nil
	}
	return c.object(fn)
}

// arrayValue reads an array, fn reading each element, or null.
func (c *jsonCursor) arrayValue(fn func() error) error {
	if c.null() {
		return nil
	}
	return c.array(fn)
}

// timeValue reads a *time.Time's value as encoding/json does: null, or a string that
// time.Time's UnmarshalJSON takes.
func (c *jsonCursor) timeValue() error {
	if c.null() {
		return nil
	}
	start := c.i
	if err := c.strValue(); err != nil {
		return err
	}
	var t time.Time
	if t.UnmarshalJSON(c.data[start:c.i]) != nil {
		return errUnusual
	}
	return nil
}
