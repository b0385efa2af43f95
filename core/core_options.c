/* core_options.c */
