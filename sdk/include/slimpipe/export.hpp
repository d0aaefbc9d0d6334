// Symbol visibility for the SDK shared library: only what is marked SLIMPIPE_API is exported.
#pragma once

#if defined(_WIN32)
#define SLIMPIPE_API __declspec(dllexport)
#else
#define SLIMPIPE_API __attribute__((visibility("default")))
#endif
