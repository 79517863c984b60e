using RsMoe.Model.Configs;
using RsMoe.Model.Lora;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.QFormer;

/// <summary>BERT multi-head attention (<c>query</c>, <c>key</c>, <c>value</c>); keys and values may come from the image (cross-attention).</summary>
public sealed class QFormerMultiHeadAttention : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    readonly LoraLinear query, key, value;
    readonly Dropout dropout;
    readonly int _heads, _headDim;
    readonly Scalar _sqrtHeadDim;   // long-lived: see Scalars

    public QFormerMultiHeadAttention(QFormerConfig config, bool isCrossAttention) : base(nameof(QFormerMultiHeadAttention))
    {
        _heads = config.NumAttentionHeads;
        _headDim = config.HiddenSize / config.NumAttentionHeads;
        _sqrtHeadDim = Math.Sqrt(_headDim);
        int keySize = isCrossAttention ? config.EncoderHiddenSize : config.HiddenSize;
        query = new LoraLinear(config.HiddenSize, config.HiddenSize);
        key = new LoraLinear(keySize, config.HiddenSize);
        value = new LoraLinear(keySize, config.HiddenSize);
        dropout = nn.Dropout(config.AttentionProbsDropoutProb);
        RegisterComponents();
    }

    /// <summary><paramref name="additiveMask"/> is [B, 1, 1, keys] with 0 to keep and a large negative to drop, or null.</summary>
    public override Tensor forward(Tensor hidden, Tensor keyValueSource, Tensor? additiveMask)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0];
        Tensor Split(Tensor x) => x.view(batch, -1, _heads, _headDim).transpose(1, 2);
        var q = Split(query.call(hidden));
        var k = Split(key.call(keyValueSource));
        var v = Split(value.call(keyValueSource));
        var scores = q.matmul(k.transpose(-1, -2)).div(_sqrtHeadDim);
        if (additiveMask is not null) scores = scores.add(additiveMask, Scalars.One);   // explicit alpha: see Scalars
        var probs = dropout.call(scores.softmax(-1));
        var context = probs.matmul(v).transpose(1, 2).reshape(batch, -1, _heads * _headDim);
        return context.MoveToOuterDisposeScope();
    }
}

/// <summary>Attention plus its output block (<c>attention.*</c> or <c>crossattention.*</c>).</summary>
public sealed class QFormerAttention : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    readonly QFormerMultiHeadAttention attention;
    readonly QFormerOutput output;

    public QFormerAttention(QFormerConfig config, bool isCrossAttention) : base(nameof(QFormerAttention))
    {
        attention = new QFormerMultiHeadAttention(config, isCrossAttention);
        output = new QFormerOutput(config, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor keyValueSource, Tensor? additiveMask)
    {
        using var scope = NewDisposeScope();
        return output.call(attention.call(hidden, keyValueSource, additiveMask), hidden).MoveToOuterDisposeScope();
    }
}

/// <summary>The FFN's first half (<c>intermediate.dense</c> + GELU).</summary>
public sealed class QFormerIntermediate : nn.Module<Tensor, Tensor>
{
    readonly LoraLinear dense;

    public QFormerIntermediate(QFormerConfig config) : base(nameof(QFormerIntermediate))
    {
        dense = new LoraLinear(config.HiddenSize, config.IntermediateSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.gelu(dense.call(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Projection, dropout and residual LayerNorm (<c>output.dense</c>, <c>output.LayerNorm</c>): after attention
/// (input width hidden) and as the FFN's second half (input width intermediate), as BERT's two output blocks.
/// </summary>
public sealed class QFormerOutput : nn.Module<Tensor, Tensor, Tensor>
{
    readonly LoraLinear dense;
    readonly LayerNorm LayerNorm;
    readonly Dropout dropout;

    public QFormerOutput(QFormerConfig config, int inputSize) : base(nameof(QFormerOutput))
    {
        dense = new LoraLinear(inputSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor residual)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.call(dropout.call(dense.call(hidden)).add(residual, Scalars.One)).MoveToOuterDisposeScope();
    }
}
