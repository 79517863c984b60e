using RsMoe.Model.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.QFormer;

/// <summary>
/// One Q-Former block: queries and instruction tokens share self-attention; only the queries then
/// cross-attend to the visual tokens (in layers where <c>index % cross_attention_frequency == 0</c>);
/// queries and text go through separate FFNs (<c>intermediate_query/output_query</c> and <c>intermediate/output</c>).
/// </summary>
public sealed class QFormerLayer : nn.Module
{
    readonly QFormerAttention attention;
    readonly QFormerAttention? crossattention;
    readonly QFormerIntermediate intermediate, intermediate_query;
    readonly QFormerOutput output, output_query;

    public bool HasCrossAttention => crossattention is not null;

    public QFormerLayer(QFormerConfig config, int index) : base(nameof(QFormerLayer))
    {
        attention = new QFormerAttention(config, isCrossAttention: false);
        if (index % config.CrossAttentionFrequency == 0) crossattention = new QFormerAttention(config, isCrossAttention: true);
        intermediate = new QFormerIntermediate(config);
        output = new QFormerOutput(config, config.IntermediateSize);
        intermediate_query = new QFormerIntermediate(config);
        output_query = new QFormerOutput(config, config.IntermediateSize);
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor? selfAttentionMask, Tensor imageEmbeds, int queryLength)
    {
        using var scope = NewDisposeScope();
        var attended = attention.call(hidden, hidden, selfAttentionMask);
        var queries = attended.narrow(1, 0, queryLength);
        if (crossattention is not null) queries = crossattention.call(queries, imageEmbeds, null);
        var result = output_query.call(intermediate_query.call(queries), queries);
        long textLength = attended.shape[1] - queryLength;
        if (textLength > 0)
        {
            var text = attended.narrow(1, queryLength, textLength);
            result = cat([result, output.call(intermediate.call(text), text)], 1);
        }
        return result.MoveToOuterDisposeScope();
    }
}
