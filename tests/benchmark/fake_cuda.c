/* A stand-in for libcuda.so.1 (no NVIDIA GPU on the test machines): the CUDA driver functions
   nunet's GPU benchmark calls, for one device at PCI 0000:19:00.0 with 4 multiprocessors.
   A launch checks its arguments, then sleeps as long as a device doing RATE thread-iterations
   per second would take, and writes 1.0 to out[0]. -DBAD_PTX makes module loading fail with a
   compiler log. Built by the tests with gcc. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 2.0e10 /* thread-iterations per second */

int launches = 0;
unsigned int last_iterations = 0, last_grid = 0, last_block = 0;
static void *allocation = NULL;

static int known(int result, const char **text, const char *ok, const char *bad) {
    *text = result == 0 ? ok : bad;
    return 0;
}
int cuGetErrorName(int result, const char **text) {
    return known(result, text, "CUDA_SUCCESS", result == 218 ? "CUDA_ERROR_INVALID_PTX" : "CUDA_ERROR_INVALID_VALUE");
}
int cuGetErrorString(int result, const char **text) {
    return known(result, text, "no error", result == 218 ? "a PTX JIT compilation failed" : "invalid argument");
}
int cuInit(unsigned int flags) { return flags == 0 ? 0 : 1; }
int cuDeviceGetCount(int *count) { *count = 1; return 0; }
int cuDeviceGet(int *device, int ordinal) { if (ordinal != 0) return 101; *device = ordinal; return 0; }
int cuDeviceGetPCIBusId(char *text, int length, int device) {
    if (device != 0 || length < 13) return 1;
    strcpy(text, "0000:19:00.0");
    return 0;
}
int cuDeviceGetAttribute(int *value, int attribute, int device) {
    if (attribute != 16 || device != 0) return 1;
    *value = 4;
    return 0;
}
int cuCtxCreate_v2(void **context, unsigned int flags, int device) {
    if (device != 0) return 101;
    *context = (void *)0x1;
    return 0;
}
int cuCtxDestroy_v2(void *context) { return context == (void *)0x1 ? 0 : 1; }
int cuModuleLoadDataEx(void **module, const void *image, unsigned int n, int *options, void **values) {
#ifdef BAD_PTX
    const int bad = image != NULL;
#else
    const int bad = strstr((const char *)image, ".entry fma_loop") == NULL;
#endif
    if (bad) {
        for (unsigned int i = 0; i < n; i++)
            if (options[i] == 5) strcpy((char *)values[i], "ptxas fatal   : Unresolved extern function 'fma_loop'");
        return 218;
    }
    *module = (void *)0x2;
    return 0;
}
int cuModuleUnload(void *module) { return module == (void *)0x2 ? 0 : 1; }
int cuModuleGetFunction(void **function, void *module, const char *name) {
    if (module != (void *)0x2 || strcmp(name, "fma_loop") != 0) return 500;
    *function = (void *)0x3;
    return 0;
}
int cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
    allocation = calloc(1, bytes);
    *pointer = (unsigned long long)allocation;
    return allocation ? 0 : 2;
}
int cuMemFree_v2(unsigned long long pointer) {
    if ((void *)pointer != allocation) return 1;
    free(allocation);
    allocation = NULL;
    return 0;
}
int cuLaunchKernel(void *function, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                   unsigned int by, unsigned int bz, unsigned int shared, void *stream, void **params,
                   void **extra) {
    if (function != (void *)0x3 || gy != 1 || gz != 1 || by != 1 || bz != 1 || shared != 0 || extra)
        return 1;
    unsigned long long out = *(unsigned long long *)params[0];
    unsigned int iterations = *(unsigned int *)params[1];
    if ((void *)out != allocation || gx != 4 * 8 || bx != 256) return 1;
    double seconds = (double)gx * bx * iterations / RATE;
    struct timespec pause = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&pause, NULL);
    ((float *)allocation)[0] = 1.0f;
    launches++;
    last_iterations = iterations;
    last_grid = gx;
    last_block = bx;
    return 0;
}
int cuCtxSynchronize(void) { return 0; }
int cuMemcpyDtoH_v2(void *target, unsigned long long source, size_t bytes) {
    if ((void *)source != allocation) return 1;
    memcpy(target, (void *)source, bytes);
    return 0;
}
