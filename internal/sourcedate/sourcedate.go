// Package sourcedate is the one place gadgetpack reads the time it stamps into artifacts: the
// SOURCE_DATE_EPOCH of https://reproducible-builds.org/specs/source-date-epoch/ when set, else
// the current time.
package sourcedate

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env is the name of the environment variable that fixes the time.
const Env = "SOURCE_DATE_EPOCH"

// ErrInvalid is returned when SOURCE_DATE_EPOCH is set but is not a non-negative decimal
// number of seconds.
var ErrInvalid = errors.New("invalid " + Env)

// Now returns SOURCE_DATE_EPOCH as a UTC time when it is set, else the current time in UTC,
// truncated to whole seconds either way. It returns ErrInvalid for a malformed value.
func Now() (time.Time, error) {
	v := os.Getenv(Env)
	if v == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("%s=%q: %w", Env, v, ErrInvalid)
	}
	return time.Unix(sec, 0).UTC(), nil
}
