;; program.wat: the wasm side of the trace_exec test gadget, written by the gadgetpack project.
;;
;; ig instantiates the module, calls the optional start function _initialize, then requires an
;; export gadgetAPIVersion returning 1. ig's own API (wasmapi/go/version.go, the Rust api crate)
;; declares it as a uint64, so it returns an i64 here; wazero hands back every result as a
;; uint64, so an i32 would also be read as 1. gadgetInit, gadgetStart and gadgetStop return 0
;; (success) and do nothing.
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "gadgetAPIVersion") (result i64)
    i64.const 1)
  (func (export "gadgetInit") (result i32)
    i32.const 0)
  (func (export "gadgetStart") (result i32)
    i32.const 0)
  (func (export "gadgetStop") (result i32)
    i32.const 0))
