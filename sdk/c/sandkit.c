/* The SDK's implementation: `sandkit plugin build` compiles this file with the plugin's own. */
#define SANDKIT_IMPLEMENTATION
#include "sandkit.h"
