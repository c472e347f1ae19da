//! Work in progress (issue 7): the bodies of the fuzz targets.
