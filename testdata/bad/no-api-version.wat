;; no-api-version.wat: a valid wasm module that lacks the gadgetAPIVersion export ig requires.
(module
  (memory (export "memory") 1)
  (func (export "gadgetInit") (result i32)
    i32.const 0))
