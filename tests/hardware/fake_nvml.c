/* A stand-in for libnvidia-ml.so.1 (no NVIDIA GPU on the test machines): the NVML functions
   nunet calls, with the struct layouts of NVIDIA's nvml.h, answering for two devices.
   Built by the tests with gcc; -DFAIL_INIT makes nvmlInit_v2 report a driver that is not loaded. */
#include <stdio.h>
#include <string.h>

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

static int initialised = 0;
int shutdowns = 0;

int nvmlInit_v2(void) {
#ifdef FAIL_INIT
    return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
#endif
    initialised = 1;
    return 0;
}
int nvmlShutdown(void) { initialised = 0; shutdowns++; return 0; }
const char *nvmlErrorString(int result) {
    return result == 9 ? "Driver Not Loaded" : result == 3 ? "Not Supported" : "Unknown Error";
}
int nvmlDeviceGetCount_v2(unsigned int *count) { if (!initialised) return 1; *count = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **handle) {
    if (index > 1) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *handle = (void *)(unsigned long)(index + 1);
    return 0;
}
static int which(void *handle) { return (int)(unsigned long)handle - 1; }
int nvmlDeviceGetName(void *handle, char *name, unsigned int length) {
    snprintf(name, length, "%s", which(handle) == 0 ? "NVIDIA H100 80GB HBM3" : "NVIDIA A10");
    return 0;
}
int nvmlDeviceGetMemoryInfo(void *handle, nvmlMemory_t *memory) {
    memory->total = which(handle) == 0 ? 85520809984ULL : 24146608128ULL;
    memory->free = memory->total / 2;
    memory->used = memory->total - memory->free;
    return 0;
}
int nvmlDeviceGetPciInfo_v3(void *handle, nvmlPciInfo_t *pci) {
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", which(handle) == 0 ? 0x19 : 0xC1);
    snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", which(handle) == 0 ? 0x19 : 0xC1);
    pci->bus = which(handle) == 0 ? 0x19 : 0xC1;
    return 0;
}
int nvmlDeviceGetUUID(void *handle, char *uuid, unsigned int length) {
    snprintf(uuid, length, "GPU-%d2b5a5b4-9a1c-4b8e-8f1e-0c6d5e4f3a2b", which(handle));
    return 0;
}
int nvmlDeviceGetCudaComputeCapability(void *handle, int *major, int *minor) {
    if (which(handle) == 1) return 3; /* NVML_ERROR_NOT_SUPPORTED: a device that cannot say */
    *major = 9;
    *minor = 0;
    return 0;
}
