// The stb_image / stb_image_write implementations, compiled only with NWQ_STB_IMPLEMENTATION
// (machines without Debian's libstb.so, such as the GPU machine: see README "GPU machines").
#ifdef NWQ_STB_IMPLEMENTATION
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#endif
