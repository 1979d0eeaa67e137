#include "trace/trace-hw_dsmvm.h"
