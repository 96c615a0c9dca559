/*
 * indirect_rows_inl.h - the 8 input rows of one kernel tap in the channel-last tiles
 * (q8c_conv.h, f32c_conv.h): from the tile's indirection, ind[0..7] (step 0), or the
 * first pixel's pointer ind[0] advanced by step elements per row (a tile inside one
 * output row). Declares x0 .. x7 as const T *.
 */
#ifndef NN_KERNELS_INDIRECT_ROWS_INL_H
#define NN_KERNELS_INDIRECT_ROWS_INL_H

#define NN_IND_ROWS8(T, ind, step)                                                           \
  const T *x0, *x1, *x2, *x3, *x4, *x5, *x6, *x7;                                            \
  if (step) {                                                                                \
    x0 = (const T *)(ind)[0], x1 = x0 + (step), x2 = x1 + (step), x3 = x2 + (step);          \
    x4 = x3 + (step), x5 = x4 + (step), x6 = x5 + (step), x7 = x6 + (step);                  \
  } else {                                                                                   \
    x0 = (const T *)(ind)[0], x1 = (const T *)(ind)[1], x2 = (const T *)(ind)[2];            \
    x3 = (const T *)(ind)[3], x4 = (const T *)(ind)[4], x5 = (const T *)(ind)[5];            \
    x6 = (const T *)(ind)[6], x7 = (const T *)(ind)[7];                                      \
  }

#endif
