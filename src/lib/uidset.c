#include "uidset.h"
