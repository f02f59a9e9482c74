//! The ECMAScript datamodel (SCXML B.2) on boa_engine.
//! (placeholder until implemented)
