using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> gate_proj, up_proj, down_proj;

    public LlamaMLP(LlamaConfig config) : base(nameof(LlamaMLP))
    {
        gate_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias);
        up_proj = nn.Linear(config.HiddenSize, config.IntermediateSize, hasBias: config.MlpBias);
        down_proj = nn.Linear(config.IntermediateSize, config.HiddenSize, hasBias: config.MlpBias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gated = nn.functional.silu(gate_proj.call(x)).mul_(up_proj.call(x));
        return down_proj.call(gated).MoveToOuterDisposeScope();
    }
}
