#ifndef LIFEBOAT_CZSTD_SHIM_H
#define LIFEBOAT_CZSTD_SHIM_H
#include <zstd.h>
#endif
