using RsMoe.Model.Configs;
using TorchSharp;
using RsMoe.Model.Lora;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class LlamaMLP : nn.Module<Tensor, Tensor>
{
    readonly LoraLinear gate_proj, up_proj, down_proj;

    internal LoraLinear GateProj => gate_proj;
    internal LoraLinear UpProj => up_proj;
    internal LoraLinear DownProj => down_proj;

    public LlamaMLP(LlamaConfig config) : base(nameof(LlamaMLP))
    {
        gate_proj = new LoraLinear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        up_proj = new LoraLinear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        down_proj = new LoraLinear(config.IntermediateSize, config.HiddenSize, config.MlpBias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gated = nn.functional.silu(gate_proj.call(x)).mul_(up_proj.call(x));
        return down_proj.call(gated).MoveToOuterDisposeScope();
    }
}
