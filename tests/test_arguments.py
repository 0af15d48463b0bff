"""cconv._arguments: parsing and validation helpers, on their own."""
import numpy as np
import pytest

from cconv import _arguments as args


@pytest.mark.parametrize("value, expected", [
    (2, (2, 2)), ((2, 3), (2, 3)), ([4, 1], (4, 1)), ((5,), (5, 5)),
    (np.int64(3), (3, 3)), ((np.int32(1), np.uint8(2)), (1, 2)),
])
def test_int_pair_accepts_ints_pairs_and_numpy_integers(value, expected):
    result = args.int_pair("stride", value)
    assert result == expected
    assert all(type(v) is int for v in result)


@pytest.mark.parametrize("value", [1.0, True, np.bool_(True), "2", None, (1.0, 2), (True, 1),
                                   np.array([1, 2])])
def test_int_pair_refuses_other_types(value):
    with pytest.raises(TypeError, match="stride must be a positive int or a pair"):
        args.int_pair("stride", value)


@pytest.mark.parametrize("value", [0, -1, (0, 1), (1, -2), (1, 2, 3), (), 2**63])
def test_int_pair_refuses_bad_values_and_lengths(value):
    with pytest.raises(ValueError, match="stride must be a positive int or a pair"):
        args.int_pair("stride", value)


def test_int_pair_message_shows_the_value():
    with pytest.raises(ValueError, match=r"got \(0, 1\)$"):
        args.int_pair("stride", (0, 1))


def test_non_negative_pairs_allow_zero():
    assert args.int_pair("padding", 0, minimum=0) == (0, 0)
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        args.int_pair("padding", (0, -1), minimum=0)


def test_int_value():
    assert args.int_value("groups", np.int16(3)) == 3
    with pytest.raises(ValueError, match="groups must be a positive int, got 0"):
        args.int_value("groups", 0)
    with pytest.raises(TypeError, match="groups must be a positive int"):
        args.int_value("groups", 2.0)
    assert args.int_value("pad", 0, minimum=0) == 0


def test_optional_int_pair_defaults():
    assert args.optional_int_pair("stride", None, (3, 2)) == (3, 2)
    assert args.optional_int_pair("stride", (), (3, 2)) == (3, 2)
    assert args.optional_int_pair("stride", 1, (3, 2)) == (1, 1)


@pytest.mark.parametrize("value, expected", [
    ("same", "same"), ("VALID", "valid"), ("Same", "same"), (1, (1, 1)), ((0, 2), (0, 2)),
])
def test_conv_padding(value, expected):
    assert args.conv_padding(value) == expected


def test_conv_padding_refuses_unknown_strings_and_negatives():
    with pytest.raises(ValueError, match="padding .*unknown string 'full'"):
        args.conv_padding("full")
    with pytest.raises(ValueError, match="padding must be"):
        args.conv_padding(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, ">f8", "<f4"])
def test_float_dtype_accepts_float32_and_float64_in_any_byte_order(dtype):
    a = np.zeros(3, dtype)
    assert args.float_dtype(x=a) == np.dtype(np.dtype(dtype).type)
    assert args.float_dtype(x=a).isnative


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.complex128,
                                   np.float16, object, np.longdouble])
def test_float_dtype_refuses_other_dtypes(dtype):
    if np.dtype(dtype) in (np.dtype(np.float64),):
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match=f"weight must be float32 or float64, got {np.dtype(dtype)}"):
        args.float_dtype(x=np.zeros(2), weight=np.zeros(2, dtype))


def test_float_dtype_refuses_mixed_dtypes_naming_all():
    with pytest.raises(TypeError, match="x, weight and bias must share one dtype .*"
                                        "x float32, weight float64, bias float32"):
        args.float_dtype(x=np.zeros(1, np.float32), weight=np.zeros(1),
                         bias=np.zeros(1, np.float32))


def test_as_array_converts_array_likes_and_names_failures():
    assert args.as_array("x", [[1.0, 2.0]]).dtype == np.float64
    with pytest.raises(TypeError, match="x must be an array"):
        args.as_array("x", None)
    with pytest.raises(TypeError, match="x must be an array-like"):
        args.as_array("x", [[1.0], [1.0, 2.0]])


def test_check_ndim():
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\), got a 2-D"):
        args.check_ndim("x", np.zeros((2, 3)), "(N, C, H, W)")
    args.check_ndim("bias", np.zeros(3), "(K)")


def test_as_c_contiguous_never_touches_the_input():
    base = np.arange(24.0).reshape(2, 3, 4)
    base.flags.writeable = False
    for a in (base, base[:, ::2], np.asfortranarray(base), base.astype(">f8")):
        c = args.as_c_contiguous(a, np.dtype(np.float64))
        assert c.flags.c_contiguous and c.dtype.isnative
        np.testing.assert_array_equal(c, a)
    assert args.as_c_contiguous(base, np.dtype(np.float64)) is base   # no needless copy


def test_flag():
    assert args.flag("ceil_mode", np.bool_(True)) is True
    with pytest.raises(TypeError, match="ceil_mode must be a bool, got 1"):
        args.flag("ceil_mode", 1)


@pytest.mark.parametrize("value", [(1, 2, 3), (1, 0, 3, 3), (-1, 1, 1, 1)])
def test_shape4_refuses_bad_values(value):
    with pytest.raises(ValueError, match=r"input_shape must be a shape \(N, C, H, W\)"):
        args.shape4("input_shape", value)


def test_shape4():
    assert args.shape4("input_shape", np.zeros((0, 2, 3, 4)).shape) == (0, 2, 3, 4)
    assert args.shape4("input_shape", [np.int64(1), 2, 3, 4]) == (1, 2, 3, 4)
    with pytest.raises(TypeError, match="input_shape"):
        args.shape4("input_shape", 5)
    with pytest.raises(TypeError, match="input_shape"):
        args.shape4("input_shape", (1, 2, 3.0, 4))
    with pytest.raises(ValueError, match="input_shape of shape .* more than int64"):
        args.shape4("input_shape", (2**31, 2**31, 2**31, 2**31))


def test_int64_guards():
    args.check_span("conv2d along H", 10, 2, 3, 1, 1)
    with pytest.raises(ValueError, match="conv2d along H: .*overflow int64"):
        args.check_span("conv2d along H", 10, 2**63, 3, 1, 1)
    with pytest.raises(ValueError, match="conv2d along W: .*overflow int64"):
        args.check_span("conv2d along W", 10, 0, 2**40, 1, 2**40)
    args.check_element_count("col", (2**30, 2**29), 8)
    with pytest.raises(ValueError, match=r"col of shape \(4294967296, 4294967296\)"):
        args.check_element_count("col", (2**32, 2**32), 1)


def test_check_indices_checks_type_and_shape_not_values():
    good = np.array([[[[0, 3]]]], np.int64)
    args.check_indices(good, (1, 1, 1, 2))
    args.check_indices(good.astype(">i8"), (1, 1, 1, 2))
    args.check_indices(np.array([[[[0, -1]]]], np.int64), (1, 1, 1, 2))  # the kernel's to find
    with pytest.raises(TypeError, match="indices must be an int64 array"):
        args.check_indices(good.astype(np.int32), (1, 1, 1, 2))
    with pytest.raises(ValueError, match="indices must have the shape of grad_output"):
        args.check_indices(good, (1, 1, 2, 1))


def test_memo_key_tells_apart_what_validation_tells_apart():
    keys = [args.memo_key(v) for v in (1, True, "same", "SAME", None, (1, 1), [1, 1], (True, 1))]
    assert None not in keys and len(set(keys)) == len(keys)
    for unkeyable in (1.0, np.int64(1), (1, 2.0), np.array([1, 2]), [[0, 0], [1, np.int32(1)]]):
        assert args.memo_key((2, 3), unkeyable) is None
    assert args.memo_key((2, 3), [[0, 0], [1, 1]]) == args.memo_key((2, 3), [[0, 0], [1, 1]])


def test_memo_keeps_results_and_empties_when_full():
    memo = args.Memo(size=2)
    assert memo.get(None) is None and memo.put(None, "r") == "r" and memo.get(None) is None
    memo.put(("a",), 1)
    memo.put(("b",), 2)
    assert memo.get(("a",)) == 1
    memo.put(("c",), 3)
    assert memo.get(("a",)) is None and memo.get(("c",)) == 3


@pytest.mark.parametrize("value, expected", [
    (0, 0.0), (1, 1.0), (0.25, 0.25), (np.float32(0.5), 0.5), (np.float64(1.0), 1.0),
    (np.int64(0), 0.0), (-0.0, 0.0),
])
def test_probability_accepts_ints_and_floats_in_range(value, expected):
    result = args.probability("p", value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", [-1e-300, 1.0000001, 2, -1, 10**400, float("nan"), float("inf")])
def test_probability_refuses_values_outside_0_1(value):
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\]"):
        args.probability("p", value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "0.5", None, [0.5], np.array(0.5), 0.5j])
def test_probability_refuses_other_types(value):
    with pytest.raises(TypeError, match=r"p must be a probability in \[0, 1\]"):
        args.probability("p", value)


def test_uint64_value():
    assert args.uint64_value("seed", 0) == 0
    assert args.uint64_value("seed", 2**64 - 1) == 2**64 - 1
    assert type(args.uint64_value("seed", np.uint64(2**64 - 1))) is int
    for bad in (-1, 2**64, np.int64(-5)):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64\)"):
            args.uint64_value("seed", bad)
    for bad in (1.0, True, "3", None):
        with pytest.raises(TypeError, match="seed must be an int"):
            args.uint64_value("seed", bad)


def test_check_mask():
    args.check_mask(np.zeros((2, 3), np.uint8), (2, 3))
    with pytest.raises(TypeError, match="mask must be a uint8 array .* got dtype bool"):
        args.check_mask(np.zeros((2, 3), bool), (2, 3))
    with pytest.raises(ValueError, match=r"mask must have the shape of grad_output \(2, 3\), "
                                         r"got \(3, 2\)"):
        args.check_mask(np.zeros((3, 2), np.uint8), (2, 3))
