using Google.Protobuf;
using RsMoe.Contracts.Tensors;

namespace RsMoe.Contracts.V1;

/// <summary>The wire tensor's conversions, beside the contract itself (format: <see cref="TensorBytes"/>).</summary>
public sealed partial class Tensor
{
    /// <summary>A tensor of <paramref name="values"/> with <paramref name="shape"/>; the encoded bytes are wrapped, not copied again.</summary>
    public static Tensor FromFloats(ReadOnlySpan<float> values, IEnumerable<long> shape, DType dtype = DType.Float32)
    {
        var tensor = new Tensor { Dtype = dtype, Data = UnsafeByteOperations.UnsafeWrap(TensorBytes.Encode(values, dtype)) };
        tensor.Shape.Add(shape);
        return tensor;
    }

    /// <summary>The shape, once shape, element type and byte count are checked to agree (an <see cref="ArgumentException"/> naming <paramref name="what"/> otherwise).</summary>
    public long[] ValidatedShape(string what)
    {
        var shape = Shape.ToArray();
        TensorBytes.Validate(shape, Dtype, Data.Length, what);
        return shape;
    }

    /// <summary>The values as float32, whatever their wire type.</summary>
    public float[] ToFloats() => TensorBytes.Decode(Data.Span, Dtype);
}
