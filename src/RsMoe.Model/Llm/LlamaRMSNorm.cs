using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>Root-mean-square norm computed in fp32 whatever the activations' dtype, as Llama does.</summary>
public sealed class LlamaRMSNorm : nn.Module<Tensor, Tensor>
{
    readonly double _eps;
    readonly Scalar _epsScalar;   // long-lived: see Scalars
    readonly Parameter weight;

    internal Parameter Weight => weight;
    internal double Eps => _eps;

    public LlamaRMSNorm(long hiddenSize, double eps) : base(nameof(LlamaRMSNorm))
    {
        _eps = eps;
        _epsScalar = eps;
        weight = nn.Parameter(ones(hiddenSize));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var dtype = input.dtype;
        var h = input.to_type(ScalarType.Float32);
        // pow with a long-lived 2, not square(): TorchSharp's square() is pow(2) with a temporary Scalar the GC may
        // finalise mid-call (see Scalars). Not h·h either: that rounds differently, and a long training run parts from
        // the shipped model's at Stage 0 step 140; pow(2) retrains it step for step.
        h = h * h.pow(Scalars.Two).mean([-1L], keepdim: true).add_(_epsScalar, Scalars.One).rsqrt_();
        return (weight * h.to_type(dtype)).MoveToOuterDisposeScope();
    }
}
