using System.Text.Json;
using System.Text.Json.Serialization;
using RsMoe.Contracts.V1;

namespace RsMoe.Gateway.Api;

/// <summary>The REST API's JSON: snake_case, unknown request fields refused.</summary>
internal static class RestJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

internal sealed record CaptionBody(string? Image, string? Instruction);
internal sealed record AskBody(string? Image, string? Question);

internal sealed record SectionJson(string Aspect, string Expert, string Text, string? Error)
{
    public static SectionJson From(Section s) => new(s.Aspect, s.Expert, s.Text, s.Error.Length > 0 ? s.Error : null);
}

internal sealed record CaptionJson(string Caption, IReadOnlyList<SectionJson> Sections, string Cache, IDictionary<string, double> TimingsMs, IReadOnlyList<double> Gate)
{
    public static CaptionJson From(CaptionResponse r) =>
        new(r.Caption, r.Sections.Select(SectionJson.From).ToList(), CacheName(r.Cache), r.TimingsMs, r.Gate);

    public static string CacheName(CacheOutcome outcome) => outcome == CacheOutcome.Hit ? "hit" : "miss";
}

internal sealed record AnswerJson(string Answer, string Expert, string Cache, IDictionary<string, double> TimingsMs, IReadOnlyList<double> Gate,
    bool Fallback, string? FallbackReason)
{
    public static AnswerJson From(AskResponse r) => new(r.Answer, r.Expert, CaptionJson.CacheName(r.Cache), r.TimingsMs, r.Gate,
        r.Fallback, r.Fallback ? r.FallbackReason : null);
}

internal sealed record ExpertJson(string Role, string Version, string Health, string Model, int Replicas, int HealthyReplicas);
