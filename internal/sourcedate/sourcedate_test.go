package sourcedate

import (
	"errors"
	"testing"
	"time"
)

func TestNow(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      time.Time
		err       error
	}{
		{"epoch zero", "0", time.Unix(0, 0).UTC(), nil},
		{"a date", "1700000000", time.Unix(1700000000, 0).UTC(), nil},
		{"negative", "-5", time.Time{}, ErrInvalid},
		{"not a number", "yesterday", time.Time{}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(Env, tc.env)
			got, err := Now()
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !got.Equal(tc.want) {
				t.Fatalf("Now() = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("unset", func(t *testing.T) {
		t.Setenv(Env, "")
		got, err := Now()
		if err != nil || time.Since(got) > time.Minute || got.Location() != time.UTC {
			t.Fatalf("Now() = %v, %v; want about now, UTC", got, err)
		}
	})
}
