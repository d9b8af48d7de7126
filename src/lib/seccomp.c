#include "seccomp.h"
