// A shared library without the slimpipe entry point, to test that the loader refuses it.
extern "C" int not_a_plugin_answer() { return 42; }
