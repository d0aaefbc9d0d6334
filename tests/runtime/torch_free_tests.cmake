# The files of tests/runtime that need no LibTorch: they write their models without the SDK. The runtime-only
# build (-DSLIMPIPE_RUNTIME_ONLY=ON, or runtime/ as a project of its own) builds test_runtime from these alone;
# the full build takes every file of this folder.
set(SLIMPIPE_RUNTIME_TORCH_FREE_TESTS load_edge_test.cpp package_test.cpp tagger_reader_test.cpp tiny_model.cpp)
