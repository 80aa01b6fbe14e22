package service

// ErrIdemKey refuses an Idempotency-Key that CheckIdemKey does not pass.
var ErrIdemKey = Invalid("bad_idempotency_key", "Idempotency-Key 须为 1 到 64 个可见 ASCII 字符")

// CheckIdemKey refuses (ErrIdemKey) an Idempotency-Key longer than 64
// bytes or holding anything but visible ASCII; an empty key is no key.
// Phones resend a create with the same key, which must stay comparable
// byte for byte and fit the columns that keep it.
func CheckIdemKey(key string) error {
	if len(key) > 64 {
		return ErrIdemKey
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return ErrIdemKey
		}
	}
	return nil
}
