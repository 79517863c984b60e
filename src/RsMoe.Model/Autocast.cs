using static TorchSharp.torch;

namespace RsMoe.Model;

/// <summary>
/// bf16 autocast for the linear layers, which carry nearly all the compute: inside a scope, every
/// <see cref="Lora.LoraLinear"/> with fp32 weights multiplies by its base weight in bf16 (input and weight cast on the
/// fly, output cast back), while weights, LoRA adapters' low-rank products, norms, softmax and the loss stay fp32 and
/// gradients reach the fp32 weights through the casts.
/// TorchSharp 0.107 has no torch.autocast; this is the same policy for the op that matters.
/// </summary>
public static class Autocast
{
    [ThreadStatic] static int _depth;

    public static bool IsBf16 => _depth > 0;

    public static IDisposable Bf16(bool enabled = true) => enabled ? new Scope() : NoScope.Instance;

    sealed class Scope : IDisposable
    {
        bool _disposed;
        public Scope() => _depth++;
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _depth--;
        }
    }

    sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();
        public void Dispose() { }
    }

    /// <summary>y = x·Wᵀ + b in bf16 when a scope is open and the weight is fp32; the result has x's dtype.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!IsBf16 || weight.dtype != ScalarType.Float32) return Llm.DecodeLinear.Apply(x, weight, bias);
        using var scope = NewDisposeScope();
        var y = nn.functional.linear(x.to_type(ScalarType.BFloat16), weight.to_type(ScalarType.BFloat16), bias?.to_type(ScalarType.BFloat16));
        return y.to_type(x.dtype).MoveToOuterDisposeScope();
    }
}
