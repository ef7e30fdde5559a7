//! `inspect`: containers (and images) as Docker-shaped JSON, or through a template.

use crate::client::Clients;
use crate::docker::{container, image};
use crate::error::{status_message, Failure};
use crate::output::{self, template::Template};
use anyhow::Result;
use berth_proto::node::v1::{GetContainerRequest, GetImageRequest};
use clap::{Args, ValueEnum};
use serde::Serialize;
use tonic::Code;

/// The kinds of objects `inspect` looks up.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectType {
    /// Containers.
    Container,
    /// Images.
    Image,
}

/// An inspected object, printed in Docker's field order.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Inspected {
    /// A container.
    Container(Box<container::InspectContainer>),
    /// An image.
    Image(Box<image::InspectImage>),
}

/// `inspect [OPTIONS] NAME|ID [NAME|ID...]`.
#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a Go template, or json.
    #[arg(short = 'f', long)]
    format: Option<String>,
    /// Display total file sizes if the type is container.
    #[arg(short = 's', long)]
    size: bool,
    /// Only inspect objects of this type.
    #[arg(long = "type", value_enum)]
    object_type: Option<ObjectType>,
    /// The objects.
    #[arg(required = true)]
    objects: Vec<String>,
}

/// Inspects containers and images.
pub async fn inspect(clients: &Clients, args: InspectArgs) -> Result<i32> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for reference in &args.objects {
        match find(clients, reference, args.object_type, args.size).await? {
            Some(value) => values.push(value),
            None => missing.push(reference.clone()),
        }
    }
    print_objects(&values, args.format.as_deref())?;
    report_missing(&missing, "object")
}

/// Looks a reference up as a container, then as an image.
async fn find(
    clients: &Clients,
    reference: &str,
    only: Option<ObjectType>,
    size: bool,
) -> Result<Option<Inspected>> {
    if only != Some(ObjectType::Image) {
        let request = GetContainerRequest {
            id: reference.to_string(),
            size,
        };
        match clients.containers().get_container(request).await {
            Ok(response) => {
                if let Some(found) = response.into_inner().container {
                    return Ok(Some(Inspected::Container(Box::new(container::inspect(
                        &found,
                    )))));
                }
            }
            Err(status) if status.code() == Code::NotFound => {}
            Err(status) => return Err(status.into()),
        }
    }
    if only != Some(ObjectType::Container) {
        return find_image(clients, reference).await;
    }
    Ok(None)
}

/// Looks an image up.
pub async fn find_image(clients: &Clients, reference: &str) -> Result<Option<Inspected>> {
    match clients
        .images()
        .get_image(GetImageRequest {
            reference: reference.to_string(),
        })
        .await
    {
        Ok(response) => Ok(response
            .into_inner()
            .image
            .map(|found| Inspected::Image(Box::new(image::inspect(&found))))),
        Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => Ok(None),
        Err(status) => Err(Failure::new(status_message(&status)).into()),
    }
}

/// Prints a JSON array (Docker's indentation), or each object through a template.
pub fn print_objects(values: &[Inspected], format: Option<&str>) -> Result<()> {
    match format.map(str::trim).filter(|f| !f.is_empty()) {
        None | Some("json") => output::print(&output::pretty_json(&values)?),
        Some(format) => {
            let template = Template::parse(format)?;
            let mut text = String::new();
            for value in values {
                text.push_str(&template.render(&serde_json::to_value(value)?)?);
                text.push('\n');
            }
            output::print(&text)
        }
    }
}

/// Fails (after the found objects were printed) naming the missing ones, like Docker.
pub fn report_missing(missing: &[String], kind: &str) -> Result<i32> {
    for reference in missing {
        eprintln!("Error: No such {kind}: {reference}");
    }
    if missing.is_empty() {
        Ok(0)
    } else {
        Err(Failure::reported().into())
    }
}
