/*
 * pedalboard's text sweeps' loops in C: the same calls and comparisons as ``hotspots.first_pass``
 * makes through ``map`` and ``compress`` (and as pedalboard's loop makes one by one), and the
 * slow pass's set, read and restore at each value, without an interpreter step per value.
 * 2,000 parameters x 1,001 values make these the last loops worth compiling. Optional: without
 * it (no compiler at install), the Python versions run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* read_all(read, raw_values: tuple) -> list: read(x) for each x, in order; the first error
 * raised stops it, as it would stop list(map(read, raw_values)). */
static PyObject *
read_all(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "read_all(read, raw_values: tuple)");
        return NULL;
    }
    PyObject *read = args[0], *values = args[1];
    Py_ssize_t count = PyTuple_GET_SIZE(values);
    PyObject *texts = PyList_New(count);
    if (texts == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PyTuple_GET_ITEM(values, i);
        PyObject *text = PyObject_Vectorcall(read, &value, 1, NULL);
        if (text == NULL) {
            Py_DECREF(texts);
            return NULL;
        }
        PyList_SET_ITEM(texts, i, text);
    }
    return texts;
}

/* group_runs(texts: list, raw_values: tuple, ranges: dict) -> (start, text) | None
 * Where a text differs from the one before it, ranges[(start, raw_values[i])] = the run's text
 * and a new run starts at raw_values[i]; the first run starts at the int 0. Returns where the
 * last run starts and its text (None for no texts). None, with nothing done, unless every
 * text is exactly a str (pedalboard's loop then decides, in Python). */
static PyObject *
group_runs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "group_runs(texts, raw_values, ranges)");
        return NULL;
    }
    PyObject *texts = args[0], *values = args[1], *ranges = args[2];
    if (!PyList_CheckExact(texts) || !PyTuple_CheckExact(values) || !PyDict_CheckExact(ranges)
        || PyList_GET_SIZE(texts) > PyTuple_GET_SIZE(values)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t count = PyList_GET_SIZE(texts);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyUnicode_CheckExact(PyList_GET_ITEM(texts, i))) {
            Py_RETURN_NONE;
        }
    }
    PyObject *start = PyLong_FromLong(0);
    if (start == NULL) {
        return NULL;
    }
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 1; i < count; i++) {
        /* The texts are str: comparing them runs no Python code and cannot change the list. */
        int differs = PyObject_RichCompareBool(
            PyList_GET_ITEM(texts, i), PyList_GET_ITEM(texts, i - 1), Py_NE);
        if (differs < 0) {
            Py_DECREF(start);
            return NULL;
        }
        if (!differs) {
            continue;
        }
        PyObject *end = PyTuple_GET_ITEM(values, i);
        PyObject *key = PyTuple_Pack(2, start, end);
        if (key == NULL || PyDict_SetItem(ranges, key, PyList_GET_ITEM(texts, run)) < 0) {
            Py_XDECREF(key);
            Py_DECREF(start);
            return NULL;
        }
        Py_DECREF(key);
        Py_INCREF(end);
        Py_SETREF(start, end);
        run = i;
    }
    PyObject *last = count ? PyList_GET_ITEM(texts, run) : Py_None;
    PyObject *result = PyTuple_Pack(2, start, last);
    Py_DECREF(start);
    return result;
}

/* The original exception (if any) becomes the context of the one raised since, as a Python
 * ``finally`` block that raises leaves it. */
static void
chain_onto(PyObject *type, PyObject *value, PyObject *traceback)
{
    if (type == NULL) {
        return;
    }
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    PyObject *new_type, *new_value, *new_traceback;
    PyErr_Fetch(&new_type, &new_value, &new_traceback);
    PyErr_NormalizeException(&new_type, &new_value, &new_traceback);
    if (new_value != NULL && value != NULL && new_value != value) {
        PyException_SetContext(new_value, value); /* Steals the reference. */
        value = NULL;
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    PyErr_Restore(new_type, new_value, new_traceback);
}

/* slow_reads(parameter, raw_values: tuple) -> list: pedalboard's slow read at each value, in
 * order, as its ``get_text_for_raw_value(parameter, x, slow=True)`` makes it:
 *     original = parameter.raw_value
 *     try:
 *         parameter.raw_value = x
 *         return parameter.string_value
 *     finally:
 *         parameter.raw_value = original
 * The first error stops it, raised as that function raises it. */
static PyObject *
slow_reads(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "slow_reads(parameter, raw_values: tuple)");
        return NULL;
    }
    PyObject *parameter = args[0], *values = args[1];
    PyObject *raw_name = PyUnicode_InternFromString("raw_value");
    PyObject *text_name = PyUnicode_InternFromString("string_value");
    Py_ssize_t count = PyTuple_GET_SIZE(values);
    PyObject *texts = raw_name && text_name ? PyList_New(count) : NULL;
    if (texts == NULL) {
        goto failed;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *original = PyObject_GetAttr(parameter, raw_name);
        if (original == NULL) {
            goto failed;
        }
        PyObject *text = NULL;
        if (PyObject_SetAttr(parameter, raw_name, PyTuple_GET_ITEM(values, i)) == 0) {
            text = PyObject_GetAttr(parameter, text_name);
        }
        /* finally: the value restored, whatever happened. */
        PyObject *type = NULL, *value = NULL, *traceback = NULL;
        PyErr_Fetch(&type, &value, &traceback);
        if (PyObject_SetAttr(parameter, raw_name, original) < 0) {
            Py_XDECREF(text);
            text = NULL;
            chain_onto(type, value, traceback);
        }
        else {
            PyErr_Restore(type, value, traceback);
        }
        Py_DECREF(original);
        if (text == NULL) {
            goto failed;
        }
        PyList_SET_ITEM(texts, i, text);
    }
    Py_DECREF(raw_name);
    Py_DECREF(text_name);
    return texts;
failed:
    Py_XDECREF(texts);
    Py_XDECREF(raw_name);
    Py_XDECREF(text_name);
    return NULL;
}

static PyMethodDef methods[] = {
    {"read_all", (PyCFunction)(void (*)(void))read_all, METH_FASTCALL, NULL},
    {"group_runs", (PyCFunction)(void (*)(void))group_runs, METH_FASTCALL, NULL},
    {"slow_reads", (PyCFunction)(void (*)(void))slow_reads, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sweep_module = {
    PyModuleDef_HEAD_INIT, "_sweep", "The first text sweep's loops, compiled.", 0, methods,
};

PyMODINIT_FUNC
PyInit__sweep(void)
{
    return PyModule_Create(&sweep_module);
}
