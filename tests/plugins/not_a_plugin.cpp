// A shared library without a .slimpipe_plugin section, to test that the loader refuses it without loading it.
extern "C" int not_a_plugin_answer() { return 42; }
